/**
 * Through the real durable layer: a map key whose fields all came and went is stored in LevelDB as
 * about the bytes of an empty map (removing a field drops its value), not as the full map.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Level } from "level";
import { Key, MemoryNetwork, Replicator } from "../../src/index.js";
import { VALUE_PREFIX } from "../../src/durable/snapshots.js";
import { removeTempDirs, tempDir } from "./helpers.js";

const FIELDS = 20_000;

async function storedBytes(dir: string, key: string): Promise<number> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  try {
    const v = await db.get(VALUE_PREFIX + key);
    return v === undefined ? 0 : v.length;
  } finally {
    await db.close();
  }
}

describe("map churn in the LevelDB snapshot", { timeout: 300_000 }, () => {
  after(removeTempDirs);

  test(`a PNCounterMap of ${FIELDS} sessions, all removed: its snapshot entry shrinks back to about the empty map's`, async () => {
    const dir = tempDir();
    const k = Key.pncounterMap("sessions");
    const start = async (): Promise<Replicator> =>
      Replicator.start({ nodeId: "a", transport: new MemoryNetwork({ seed: 3 }).connect("a"), snapshot: { dir, intervalMs: 60_000 } });

    let r = await start();
    await r.update(k, (m, self) => m.increment(self, "probe").remove(self, "probe"));
    await r.close(); // a clean close writes the snapshot
    const empty = await storedBytes(dir, "sessions");

    r = await start();
    for (let i = 0; i < FIELDS; i += 500) {
      await r.update(k, (m, self) => {
        for (let j = i; j < i + 500; j++) m = m.increment(self, `session-${j}`, 1);
        return m;
      });
    }
    assert.equal(r.get(k)?.size, FIELDS);
    await r.close();
    const full = await storedBytes(dir, "sessions");

    r = await start(); // restored from the snapshot
    assert.equal(r.get(k)?.size, FIELDS);
    for (let i = 0; i < FIELDS; i += 500) {
      await r.update(k, (m, self) => {
        for (let j = i; j < i + 500; j++) m = m.remove(self, `session-${j}`);
        return m;
      });
    }
    assert.equal(r.get(k)?.size, 0);
    await r.close();
    const churned = await storedBytes(dir, "sessions");

    assert.ok(full > FIELDS * 20, `the full map took ${full} B`);
    assert.ok(churned <= empty + 40, `after every field was removed the entry is ${churned} B (empty map: ${empty} B, full: ${full} B)`);
  });
});
