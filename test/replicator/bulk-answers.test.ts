// How the request server (src/replicator/request-server.ts) treats bulk pulls: a member's range page
// over its rate limit waits for it (bounded; src/replicator/pacing.ts) instead of being dropped, a
// stranger's is still refused; and a node in the middle of its own bulk pull turns peers' digest
// rounds away (such a round would find it lacking everything and push it all a second time), while
// range pages and other requests are answered as usual. Past the limit, a page is answered in the
// loop's spare time (SPARE_LOOP_BUSY), and that is not charged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../../src/clock.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { RANGE_LEVEL } from "../../src/replicator/anti-entropy.js";
import { cpuTimeMs } from "../../src/replicator/rate-limit.js";
import { BULK_LIMITS, BULK_TURN_MS, PACING, RequestServer, SPARE_LOOP_BUSY, SPARE_RECHECK_MS, type RequestServerDeps } from "../../src/replicator/request-server.js";
import { encodeNodeRequest, type DigestRequest } from "../../src/wire/codec.js";
import { VirtualClock } from "../sim/virtual-clock.js";

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

/**
 * A member's request server on a virtual clock whose bulk-pull pages `rangePage` builds; the reply
 * subjects it answered, in order. `loopBusy`: what the clock says of the event loop (none: a
 * virtual clock's own answer, no spare time).
 */
function pageServer(rangePage: () => Uint8Array, isMember: (node: string) => boolean = () => true, loopBusy?: () => number) {
  const clock = new VirtualClock(0);
  if (loopBusy !== undefined) Object.assign(clock, { loopBusy });
  const stats = new ReplicatorStats();
  const answered: string[] = [];
  const deps = {
    nodeId: "member-a",
    stats,
    transport: { respond: (reply: string) => answered.push(reply), maxPayload: 1 << 20 },
    antiEntropy: { catchingUp: false, rangePage },
    isMember,
    isClosed: () => false,
    reportError: (e: unknown) => assert.fail(String(e)),
    now: () => clock.now(),
    clock,
  } as unknown as RequestServerDeps;
  const page = (from: string): Uint8Array => encodeNodeRequest({ ...digest(RANGE_LEVEL), from, buckets: [{ bucket: 3, hash: 0n }] });
  return { s: new RequestServer(deps), clock, stats, answered, page };
}

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

describe("a member's bulk-pull pages over the rate limit", () => {
  it("wait for it (within bounds) instead of being dropped; a stranger's are refused", async () => {
    let expensive = true;
    const { s, clock, stats, answered, page } = pageServer(
      () => {
        // The first page takes (a little more than) the whole burst of answering time.
        spinFor(expensive ? BULK_LIMITS.perSource.burst + 100 : 0, cpuTimeMs);
        expensive = false;
        return new Uint8Array([0x1a, 0x00]);
      },
      (node) => node !== "stranger",
    );

    s.serve(page("joiner"), "inbox.1");
    assert.deepEqual(answered, ["inbox.1"]);
    for (let i = 2; i <= 6; i++) s.serve(page("joiner"), `inbox.${i}`);
    assert.deepEqual(answered, ["inbox.1"], "over the limit: none answered now");
    assert.equal(stats.rejected.get("rate-limited"), 1, `${PACING.perSource} wait, the one past that is refused`);
    s.serve(page("stranger"), "inbox.x");
    assert.equal(stats.rejected.get("not-member"), 1);
    assert.deepEqual(answered, ["inbox.1", "inbox.x"], "the stranger learns it is none");

    // In debt by ~100 ms of answering: about 0.2 s at half the loop; all four within the bound.
    await clock.advance(PACING.maxWaitMs);
    assert.deepEqual(answered.sort(), ["inbox.1", "inbox.2", "inbox.3", "inbox.4", "inbox.5", "inbox.x"]);
    assert.equal(stats.rejected.get("rate-limited"), 1, "the one past the bound stays unanswered");
  });
});

describe("what a bulk-pull page is charged", () => {
  it("is the CPU time it took, not the wall time (waiting for the cores costs this node nothing)", async () => {
    const parked = new Int32Array(new SharedArrayBuffer(4));
    let first = true;
    const { s, clock, stats, answered, page } = pageServer(() => {
      // Longer than the whole burst on the wall clock, next to no CPU: as a page built while
      // other processes held the cores.
      if (first) Atomics.wait(parked, 0, 0, BULK_LIMITS.perSource.burst + 100);
      first = false;
      return new Uint8Array([0x1a, 0x00]);
    });
    s.serve(page("joiner"), "inbox.1");
    await clock.advance(1); // the next event-loop turn
    for (let i = 2; i <= 4; i++) {
      s.serve(page("joiner"), `inbox.${i}`);
      await clock.advance(1);
    }
    assert.deepEqual(answered, ["inbox.1", "inbox.2", "inbox.3", "inbox.4"], "the burst is not used up: none waits");
    assert.equal(stats.rejected.get("rate-limited"), undefined);
  });
});

describe("bulk-pull pages arriving together", () => {
  it("take at most BULK_TURN_MS of an event-loop turn; the rest wait for the next turns, none is dropped", async () => {
    const { s, clock, stats, answered, page } = pageServer(() => {
      spinFor(BULK_TURN_MS + 5, wallMs); // one page: more than a turn's share
      return new Uint8Array([0x1a, 0x00]);
    });
    for (let i = 1; i <= 3; i++) s.serve(page("joiner"), `inbox.${i}`); // one turn: as a socket read delivers them
    assert.deepEqual(answered, ["inbox.1"], "the first page used up the turn");
    await clock.advance(10);
    assert.deepEqual(answered.sort(), ["inbox.1", "inbox.2", "inbox.3"]);
    assert.equal(stats.rejected.get("rate-limited"), undefined, "within the limit: nothing refused");
  });
});

/**
 * Busy for `ms` on `now`'s clock: `cpuTimeMs` for what the rate limiter charges (on a loaded
 * machine a span of wall time holds less CPU time), `wallMs` for an event-loop turn's share.
 */
function spinFor(ms: number, now: () => number): void {
  const until = now() + ms;
  while (now() < until) {
    // busy, as a huge page would be
  }
}
const wallMs = (): number => performance.now();

describe("a bulk-pull page past the limit while the event loop has time to spare", () => {
  it("is answered at once and not charged; when the loop is busy, pages wait for the limit again", async () => {
    let busy = 0.9;
    let cost = BULK_LIMITS.perSource.burst + 300; // the first page uses up the burst and more
    const { s, clock, stats, answered, page } = pageServer(
      () => {
        spinFor(cost, cpuTimeMs);
        cost = 150;
        return new Uint8Array([0x1a, 0x00]);
      },
      undefined,
      () => busy,
    );
    s.serve(page("joiner"), "inbox.1");
    await clock.advance(1); // the next event-loop turn
    s.serve(page("joiner"), "inbox.2");
    assert.deepEqual(answered, ["inbox.1"], "over the limit with a busy loop: it waits");

    busy = SPARE_LOOP_BUSY - 0.3;
    await clock.advance(SPARE_RECHECK_MS);
    assert.deepEqual(answered, ["inbox.1", "inbox.2"], "the loop turned idle: the held page is answered without waiting for the limit");
    for (let i = 3; i <= 6; i++) {
      s.serve(page("joiner"), `inbox.${i}`);
      await clock.advance(1);
    }
    assert.equal(answered.length, 6, "and the pages after it at once");
    assert.equal(stats.rejected.get("rate-limited"), undefined);

    // Back to the limit: in debt by the first page's excess only (~300 ms of answering, ~0.6 s at
    // half the loop). Had the five pages in spare time (~750 ms) been charged, ~2.1 s.
    busy = SPARE_LOOP_BUSY + 0.05;
    s.serve(page("joiner"), "inbox.7");
    assert.equal(answered.length, 6, "a busy loop again: the page waits for the limit");
    await clock.advance(1_200);
    assert.equal(answered.at(-1), "inbox.7", "for the first page's debt only");
  });
});

describe("systemClock.loopBusy", () => {
  it("says how much of the last second the event loop ran callbacks", async () => {
    const loopBusy = systemClock.loopBusy!;
    loopBusy();
    await new Promise((resolve) => setTimeout(resolve, 600)); // idle, waiting for a timer
    const idle = loopBusy();
    assert.ok(idle < 0.3, `after 0.6 s of waiting: ${idle.toFixed(2)}`);
    spinFor(600, wallMs);
    const spun = loopBusy();
    assert.ok(spun > 0.4, `after 0.6 s in one callback: ${spun.toFixed(2)}`);
    spinFor(600, wallMs);
    const more = loopBusy();
    assert.ok(more > 0.8, `after 1.2 s of it: ${more.toFixed(2)}`);
  });
});
