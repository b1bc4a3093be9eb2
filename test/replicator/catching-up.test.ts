// A node in the middle of a bulk pull turns peers' digest rounds away (src/replicator/request-server.ts):
// such a round would find it lacking everything and push it all a second time. Range pages (what
// its own pull asks others for, and what it may be asked) and other requests are answered as usual.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../../src/clock.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { RANGE_LEVEL } from "../../src/replicator/anti-entropy.js";
import { RequestServer, type RequestServerDeps } from "../../src/replicator/request-server.js";
import type { DigestRequest } from "../../src/wire/codec.js";

function server(catchingUp: boolean): RequestServer {
  const deps = {
    nodeId: "joiner",
    stats: new ReplicatorStats(),
    store: { get: () => undefined, tombstone: () => undefined },
    antiEntropy: { catchingUp, answer: () => ({ differing: [7], keys: [], wanted: [] }), rangePage: () => new Uint8Array() },
    now: () => 0,
    clock: systemClock,
  } as unknown as RequestServerDeps;
  return new RequestServer(deps);
}

const digest = (level: number): DigestRequest & { type: "digest" } => ({ type: "digest", from: "member", level, buckets: [], keys: [], bucket: 0 });

describe("a node catching up", () => {
  it("turns digest rounds away with an error the requester retries after", () => {
    for (const level of [0, 1, 2]) {
      const reply = server(true).answer(digest(level), true);
      assert.equal(reply.type, "error", `level ${level}`);
      assert.match(reply.type === "error" ? reply.error : "", /catching up/);
    }
    assert.deepEqual(server(true).answer(digest(RANGE_LEVEL), true), { type: "digest", differing: [7], keys: [], wanted: [] }, "range pages are answered");
    assert.equal(server(true).answer({ type: "read", from: "member", key: "k", kind: "gcounter" }, true).type, "read");
  });

  it("answers them once caught up", () => {
    for (const level of [0, 1, 2]) assert.deepEqual(server(false).answer(digest(level), true), { type: "digest", differing: [7], keys: [], wanted: [] });
  });
});
