/**
 * A member pulling as fast as it can: a raw client with a member's id (which only the cluster key
 * could stop) keeps hundreds of bulk pulls of a node's whole store in flight, refilling each one
 * answered, for several seconds — past the burst of BULK_LIMITS (request-server.ts). Meanwhile the
 * node's writes still reach its peers, and a digest round with it still completes, within
 * deadlines: the pull gets its share of the event loop, never all of it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Key, type Replicator } from "../../src/index.js";
import { BULK_LIMITS } from "../../src/replicator/request-server.js";
import { encodeNodeRequest } from "../../src/wire/codec.js";
import { clusterWithRaw } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const SUBJECT = "crdt.deltas";
const KEYS = 40_000;
/** Bulk pulls kept in flight: far more than the node answers in a turn or lets wait (PACING). */
const IN_FLIGHT = 200;

/** Page 1 of a bulk pull of every key (every group, from leaf 0): the costliest page to build. */
const PULL = encodeNodeRequest({ type: "digest", from: "b", level: 3, buckets: Array.from({ length: 256 }, (_, bucket) => ({ bucket, hash: 0n })), keys: [], bucket: 0 });

describe("a member pulling flat out", () => {
  const cluster = clusterWithRaw(["a", "b", "c"]);

  test("does not hold up the node's writes nor a digest round with it", async () => {
    const [a, b, cc] = cluster.c.nodes as [Replicator, Replicator, Replicator];
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < KEYS; i++) writes.push(a.update(Key.gcounter(`k${i}`), (v, self) => v.increment(self, 1)));
    await Promise.all(writes);
    await waitFor(() => b.size === KEYS && cc.size === KEYS, { timeoutMs: 60_000, message: "every key everywhere" });

    // The puller: every reply or refusal (a refused request gets no answer: it times out) sends the next.
    let answered = 0;
    let stop = false;
    const pull = async (): Promise<void> => {
      while (!stop) {
        try {
          await cluster.raw.request(`${SUBJECT}.node.a`, PULL, { timeout: 1_000 });
          answered++;
        } catch {
          // refused: no answer
        }
      }
    };
    const limited0 = a.stats.rejected.get("rate-limited") ?? 0;
    const pullers = Array.from({ length: IN_FLIGHT }, pull);
    try {
      // Long enough to use up the burst (answering a page of every key costs a few ms or more).
      const until = performance.now() + BULK_LIMITS.perSource.burst + 3_000;
      let n = 0;
      while (performance.now() < until) {
        const key = Key.gcounter(`during-${n++}`);
        await a.update(key, (v, self) => v.increment(self, 1));
        await waitFor(() => b.get(key)?.value === 1 && cc.get(key)?.value === 1, {
          timeoutMs: 1_000,
          intervalMs: 5,
          message: `write ${n} on a reaches b and c within 1 s while a member pulls flat out`,
        });
        if (n % 5 === 0) {
          const started = performance.now();
          await cc.sync("a");
          const ms = performance.now() - started;
          assert.ok(ms < 2_000, `a digest round with a took ${ms.toFixed(0)} ms while a member pulls flat out`);
        }
      }
      assert.ok(answered > 10, `the puller got pages too (${answered})`);
      assert.ok((a.stats.rejected.get("rate-limited") ?? 0) > limited0, "and was held to its limit");
    } finally {
      stop = true;
      await Promise.all(pullers);
    }
  });
});
