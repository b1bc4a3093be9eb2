/**
 * Through a whole replicator (issue 13): a node restarted from its snapshot takes the digest hashes
 * the packs stored, so its digest has (next to) nothing to rehash right after the restore, and is
 * the digest a rehash of every key builds. (White-box: the replicator's anti-entropy part is read
 * through a cast; nothing public tells how much is left to rehash.)
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { systemClock } from "../../src/clock.js";
import { Key, MemoryNetwork, Replicator } from "../../src/index.js";
import type { AntiEntropy } from "../../src/replicator/anti-entropy.js";
import type { Store } from "../../src/replicator/store.js";
import { StoreDigest } from "../../src/replicator/store-digest.js";
import { waitFor } from "../helpers/wait.js";
import { removeTempDirs, tempDir } from "./helpers.js";

/** The parts of a replicator this test looks into. */
function inside(r: Replicator): { store: Store; antiEntropy: AntiEntropy; digest: StoreDigest } {
  const parts = r as unknown as { store: Store; parts: { antiEntropy: AntiEntropy } };
  const antiEntropy = parts.parts.antiEntropy;
  return { store: parts.store, antiEntropy, digest: (antiEntropy as unknown as { digests: StoreDigest }).digests };
}

describe("a replicator restored from packed snapshots", { timeout: 300_000 }, () => {
  after(removeTempDirs);

  test("starts with the digest seeded from the packs: nothing left to rehash, and the tree of a full rehash", async () => {
    const dir = tempDir();
    const start = async (): Promise<Replicator> =>
      Replicator.start({ nodeId: "a", transport: new MemoryNetwork({ seed: 5 }).connect("a"), snapshot: { dir, intervalMs: 3_600_000 } });
    const n = 9000; // past the 8,192 loose entries after which a batch packs the store
    let r = await start();
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => r.update(Key.gcounter(`c${i}`), (c, self) => c.increment(self, i + 1))));
      // A large set: its hash is an element sum, which a rehash computes by walking every element.
      await r.update(Key.orset<string>("big"), (s, self) => {
        for (let i = 0; i < 300; i++) s = s.add(self, `e${i}`);
        return s;
      });
      await r.delete(Key.gcounter("c0"));
      await waitFor(() => inside(r).antiEntropy.pendingRehash === 0, { timeoutMs: 60_000, message: "the background rehash of the writes" });
    } finally {
      await r.close(); // the final snapshot: a repack, with every value's hash
    }

    r = await start();
    try {
      const { store, antiEntropy, digest } = inside(r);
      assert.equal(store.size, n);
      // Only the tombstone is left (tombstones are stored without a hash); it may be done already.
      assert.ok(antiEntropy.pendingRehash <= 1, `${antiEntropy.pendingRehash} keys to rehash after the restore`);
      await waitFor(() => antiEntropy.pendingRehash === 0, { timeoutMs: 30_000, message: "the rehash of the tombstone" });
      assert.equal(digest.work.entries, 0, "the large set's hash came from the snapshot: none of its elements was hashed");
      const scratch = new StoreDigest(store, systemClock, (e) => assert.fail(e as Error));
      try {
        await scratch.refreshAll();
        assert.equal(scratch.work.entries, 300);
        assert.equal(digest.tree.rootHash, scratch.tree.rootHash, "the seeded digest is the digest of a full rehash");
        assert.deepEqual([...digest.tree.entries()].sort(), [...scratch.tree.entries()].sort());
      } finally {
        scratch.stop();
      }
    } finally {
      await r.close();
    }
  });
});
