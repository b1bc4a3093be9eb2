/**
 * A node in its own OS process is SIGKILLed in the middle of acknowledged writes, then restarted
 * from its snapshot directory: no acknowledged increment is lost, and because the snapshot was not
 * written by a clean close the node writes under a fresh writer id — so the increments it makes
 * right after the restart (before it heard from its peers) are not hidden behind the larger slot
 * the peers hold for its old id.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { GCounter, Key, Replicator } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { killAllNodes, readSnapshotDir, removeTempDirs, startChildNode, tempDir } from "./helpers.js";

const KEY = "crash-hits";
const num = (x: unknown): number => x as number;

describe("snapshot after SIGKILL", () => {
  let server: NatsServer | undefined;
  const peers: Replicator[] = [];
  after(async () => {
    await killAllNodes();
    await Promise.allSettled(peers.map((p) => p.close()));
    await server?.stop();
    removeTempDirs();
  });

  test("a killed node restarts from its snapshot with a fresh writer id and loses no acknowledged increment", async (t) => {
    server = await startNatsServer();
    const dir = join(tempDir(), "node-a");
    for (const id of ["b", "c"]) peers.push(await Replicator.start({ nodeId: id, nats: { servers: server.url }, ...FAST }));
    const [b, c] = peers as [Replicator, Replicator];
    const k = Key.gcounter(KEY);

    // 1. The writer: acknowledged (writeTo "all") increments, snapshots every 100 ms.
    const base = { nodeId: "a", servers: server.url, dir, intervalMs: 100, key: KEY };
    const first = startChildNode({ ...base, mode: "crash-writer", peers: 2 });
    const started = await first.waitForEvent((e) => e.event === "started", 30_000, "start");
    assert.equal(started.value, 0);
    // Kill in the middle of the writes, once a few snapshots are on disk (so the snapshot is partial).
    const cut = await first.waitForEvent((e) => e.event === "ack" && num(e.snapshots) >= 3, 30_000, "3 snapshots");
    await first.waitForEvent((e) => e.event === "ack" && num(e.i) >= num(cut.i) + 20, 30_000, "20 more acks");
    await first.kill("SIGKILL");
    const { signal } = await first.exited;
    assert.equal(signal, "SIGKILL");
    const acked = Math.max(...first.events.filter((e) => e.event === "ack").map((e) => num(e.i)));
    const written = Math.max(...first.events.filter((e) => e.event === "write").map((e) => num(e.i)));

    // 2. The peers agree on what reached them: every acknowledged write, at most the one in flight.
    await waitFor(() => b.get(k)?.value === c.get(k)?.value && (b.get(k)?.value ?? 0) >= acked, {
      timeoutMs: 15_000,
      message: "peers agree",
      describe: () => [b.get(k)?.value, c.get(k)?.value, acked],
    });
    await b.sync("c");
    const v = b.get(k)!.value;
    assert.equal(c.get(k)!.value, v);
    assert.ok(v >= acked && v <= written, `peers hold ${v}: between acknowledged ${acked} and written ${written}`);

    // 3. What the killed node left on disk: a partial, unclean snapshot.
    const entries = await readSnapshotDir(dir);
    const meta = entries.get("m/meta");
    assert.ok(meta?.type === "meta" && meta.cleanShutdown === false, "the snapshot is marked unclean");
    assert.equal(meta.writerId, started.writerId);
    const stored = entries.get(`v/${KEY}`);
    assert.ok(stored?.type === "value");
    const s = stored.value instanceof GCounter ? stored.value.value : -1;
    assert.ok(s >= 1 && s <= v, `snapshot value ${s} ≤ peers' ${v}`);
    t.diagnostic(`acked ${acked}, written ${written}, peers ${v}, snapshot ${s} (lag ${v - s})`);

    // 4. Restart from the directory; write 5 increments at once, before any sync with the peers.
    const extra = 5;
    const second = startChildNode({ ...base, mode: "after-restart", extra });
    const restarted = await second.waitForEvent((e) => e.event === "started", 30_000, "restart");
    assert.equal(restarted.value, s, "the snapshot's value is back before the node takes traffic");
    assert.notEqual(restarted.writerId, started.writerId, "an unclean snapshot gets a fresh writer id");
    assert.equal(restarted.skipped, 0);
    await second.waitForEvent((e) => e.event === "extra-done", 20_000, "extra writes");

    // 5. Everyone converges to exactly what was written before the crash plus the new increments.
    const expected = v + extra;
    await waitFor(() => b.get(k)?.value === expected && c.get(k)?.value === expected && second.last("value")?.value === expected, {
      timeoutMs: 20_000,
      message: `all three reach ${expected}`,
      describe: () => ({ b: b.get(k)?.value, c: c.get(k)?.value, a: second.last("value")?.value }),
    });
    await second.kill("SIGTERM");
    const closed = await second.exited;
    assert.equal(closed.code, 0, `clean exit: ${second.stderr()}`);
    const after = await readSnapshotDir(dir);
    const m2 = after.get("m/meta");
    assert.ok(m2?.type === "meta" && m2.cleanShutdown && m2.writerId === restarted.writerId, "clean close recorded with the writer id");
  });
});
