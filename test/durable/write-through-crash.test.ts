/**
 * Write-through (issue 15, "acknowledged means acknowledged"): a lone node — no peer holds its
 * writes — is SIGKILLed in the middle of a stream of resolved updates and restarted on the same
 * snapshot directory. Every update that had resolved is back: the counter holds at least the
 * resolved increments (at most the issued ones), every resolved ORSet add is present. After a
 * second crash at a known stop point (nothing in flight) the counter is exact, although each
 * restart writes under a fresh writer id (the old slots come back from the snapshot and the new
 * id adds to them). The same crash without write-through loses resolved writes: the control.
 *
 * The snapshot interval is an hour, so only write-through can have written anything.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { killAllNodes, removeTempDirs, startChildNode, tempDir, type ChildNode } from "./helpers.js";

const KEY = "wt-hits";
const SET = "wt-seen";
const HOUR = 3_600_000;

const count = (node: ChildNode, type: string): number => node.events.filter((e) => e.event === type).length;
const resolvedAdds = (node: ChildNode): string[] => node.events.filter((e) => e.event === "add-ok").map((e) => e.element as string);

describe("write-through survives SIGKILL of a lone node", () => {
  let server: NatsServer | undefined;
  after(async () => {
    await killAllNodes();
    await server?.stop();
    removeTempDirs();
  });

  test("every resolved update is back after a crash; the counter is exact after a crash at a known stop point", async (t) => {
    server ??= await startNatsServer();
    const dir = join(tempDir(), "lone");
    const base = { nodeId: "lone", servers: server.url, dir, intervalMs: HOUR, key: KEY, setKey: SET, mode: "durable-writer", writeThrough: true, concurrency: 8 };

    // 1. Writes stream; kill mid-stream, with writes in flight.
    const first = startChildNode(base);
    const started = await first.waitForEvent((e) => e.event === "started", 30_000, "start");
    assert.equal(started.value, 0);
    await first.waitForEvent((e) => e.event === "inc-ok" && (e.i as number) >= 400, 60_000, "400 resolved increments");
    await first.waitForEvent((e) => e.event === "add-ok" && (e.i as number) >= 400, 60_000, "400 resolved adds");
    await first.kill("SIGKILL");
    assert.equal((await first.exited).signal, "SIGKILL");
    const resolved = count(first, "inc-ok");
    const issued = count(first, "inc");
    const added = resolvedAdds(first);

    // 2. Restart: every resolved write is back (what was in flight may or may not be).
    const second = startChildNode({ ...base, stopAfter: 300 });
    const back = await second.waitForEvent((e) => e.event === "started", 30_000, "restart");
    const v = back.value as number;
    t.diagnostic(`first run: ${resolved} increments resolved, ${issued} issued; restored ${v}; ${added.length} adds resolved`);
    assert.ok(v >= resolved && v <= issued, `restored counter ${v} is between resolved ${resolved} and issued ${issued}`);
    const elements = new Set(back.elements as string[]);
    const lost = added.filter((e) => !elements.has(e));
    assert.deepEqual(lost, [], "every resolved add is present");
    assert.notEqual(back.writerId, started.writerId, "a crash means a fresh writer id");

    // 3. 300 more of each, all resolved (nothing in flight), then another SIGKILL.
    const quiet = await second.waitForEvent((e) => e.event === "quiet", 60_000, "300 more writes resolved");
    assert.equal(quiet.value, v + 300);
    await second.kill("SIGKILL");
    const added2 = resolvedAdds(second);
    assert.equal(added2.length, 300);

    // 4. Exactly what was there: old slots kept, the second writer id's 300 added to them.
    const third = startChildNode({ ...base, stopAfter: 0 });
    const last = await third.waitForEvent((e) => e.event === "started", 30_000, "second restart");
    assert.equal(last.value, v + 300, "the counter is exact across two crashes and three writer ids");
    assert.notEqual(last.writerId, back.writerId);
    const finalElements = new Set(last.elements as string[]);
    assert.deepEqual([...added, ...added2].filter((e) => !finalElements.has(e)), [], "every resolved add is present");
    await third.kill("SIGTERM");
    assert.equal((await third.exited).code, 0, third.stderr());
  });

  test("control: without write-through the same crash loses resolved updates", async () => {
    server ??= await startNatsServer();
    const dir = join(tempDir(), "behind");
    const base = { nodeId: "behind", servers: server.url, dir, intervalMs: HOUR, key: KEY, setKey: SET, mode: "durable-writer", writeThrough: false, concurrency: 8 };
    const first = startChildNode(base);
    await first.waitForEvent((e) => e.event === "inc-ok" && (e.i as number) >= 400, 60_000, "400 resolved increments");
    await first.kill("SIGKILL");
    const second = startChildNode({ ...base, stopAfter: 0 });
    const back = await second.waitForEvent((e) => e.event === "started", 30_000, "restart");
    assert.ok((back.value as number) < count(first, "inc-ok"), `write-behind restored ${String(back.value)} of ${count(first, "inc-ok")} resolved`);
    await second.kill("SIGKILL");
  });
});
