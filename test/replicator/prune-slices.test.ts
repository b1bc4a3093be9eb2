/**
 * The prune tick's scan runs in slices over event-loop turns (pruner.ts): a 10 M-key store took
 * seconds in one go, longer than the failure timeout. Here the slices are run one by one (the
 * clock's `soon` queues them), with the store changed between them: what the scan reports must
 * hold for every key at its end, also for keys changed behind it, and a scan whose decisions went
 * stale is dropped.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Clock } from "../../src/clock.js";
import { RemovedNodes } from "../../src/cluster/pruning.js";
import { GCounter } from "../../src/crdt/index.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { resolveOptions } from "../../src/replicator/options.js";
import { Pruner, type PrunerDeps } from "../../src/replicator/pruner.js";
import { Store } from "../../src/replicator/store.js";
import { MemoryNetwork } from "../../src/transport/memory.js";

const KEYS = 1_000;
const NOW = Date.UTC(2026, 0, 1);

/** A pruner over a store of KEYS counters written by "me" alone; "gone" was removed from the cluster. */
function setup() {
  const turns: (() => void)[] = [];
  const clock: Clock = {
    now: () => NOW,
    setTimeout: () => ({ unref: () => undefined }) as never,
    setInterval: () => ({ unref: () => undefined }) as never,
    clear: () => undefined,
    soon: (fn) => void turns.push(fn),
  };
  const store = new Store();
  for (let i = 0; i < KEYS; i++) store.set(`k${i}`, "gcounter", GCounter.empty().increment("me~1", i + 1).resetDelta(), "local");
  const removedNodes = new RemovedNodes();
  removedNodes.removed("gone", NOW - 1_000);
  const state = { leader: false, errors: [] as unknown[] };
  const notUsed = (): never => {
    throw new Error("no fold is due in these tests");
  };
  const deps: PrunerDeps = {
    options: resolveOptions({ nodeId: "me", clock, transport: new MemoryNetwork({ seed: 1 }).connect("me") }),
    store,
    stats: new ReplicatorStats(),
    merger: { write: notUsed } as unknown as PrunerDeps["merger"],
    outbox: { add: notUsed } as unknown as PrunerDeps["outbox"],
    heartbeater: {
      members: () => [
        { node: "me", self: true, reachable: true },
        { node: "peer", self: false, reachable: true },
      ],
      known: () => 2,
      table: { agreed: () => [{ node: "me" }, { node: "peer" }] },
    } as unknown as PrunerDeps["heartbeater"],
    antiEntropy: { roundsEnded: new Map() } as unknown as PrunerDeps["antiEntropy"],
    removedNodes,
    startedAtMs: NOW - 3_600_000,
    ownWriter: { id: "me~1", writerIn: () => "me~1" },
    isLeader: () => state.leader,
    markersReadHere: () => "yes",
    reportError: (error) => state.errors.push(error),
    sliceMs: 0, // every slice stops at its first look at the clock: 256 keys a slice
  };
  const pruner = new Pruner(deps);
  /** Run the queued slices, one per turn; returns how many ran. */
  const runTurns = (max = Infinity): number => {
    let n = 0;
    while (turns.length > 0 && n < max) {
      turns.shift()!();
      n++;
    }
    return n;
  };
  return { pruner, store, removedNodes, state, runTurns, turns };
}

const heldHere = (removedNodes: RemovedNodes): string[] => removedNodes.unpruned(10);

describe("prune tick in slices", () => {
  test("the scan yields the event loop between slices and reports once, at its end", () => {
    const { pruner, removedNodes, runTurns, state } = setup();
    assert.deepEqual(heldHere(removedNodes), ["gone"], "not scanned yet: a removed node counts as held");
    pruner.tick();
    assert.deepEqual(heldHere(removedNodes), ["gone"], "the first slice did not see every key");
    const more = runTurns();
    assert.equal(more, Math.ceil(KEYS / 256) - 1, "one slice per 256 keys");
    assert.deepEqual(heldHere(removedNodes), [], "no key holds an id of gone");
    assert.deepEqual(state.errors, []);
  });

  test("a key changed behind the scan counts: gone's id written into a key already passed is reported held", () => {
    const { pruner, store, removedNodes, runTurns } = setup();
    pruner.tick(); // keys k0..k255 passed
    store.set("k3", "gcounter", GCounter.empty().increment("me~1", 4).increment("gone~1", 1).resetDelta(), "remote");
    runTurns();
    assert.deepEqual(heldHere(removedNodes), ["gone"], "gone's id arrived behind the scan");
  });

  test("a tick while a scan runs adds none; a whole prune finishes the scan under way", () => {
    const { pruner, removedNodes, runTurns, turns } = setup();
    pruner.tick();
    pruner.tick();
    assert.equal(turns.length, 1, "one scan, one next slice");
    pruner.prune();
    assert.deepEqual(heldHere(removedNodes), []);
    assert.equal(runTurns(), 1, "the queued slice finds its scan finished and does nothing more");
    assert.equal(turns.length, 0);
  });

  test("a scan whose decisions went stale (the leader changed) is dropped, and the next tick starts over", () => {
    const { pruner, store, removedNodes, runTurns, state } = setup();
    pruner.tick();
    state.leader = true;
    runTurns();
    assert.deepEqual(heldHere(removedNodes), ["gone"], "dropped: nothing reported");
    state.leader = false;
    store.set("k999", "gcounter", GCounter.empty().increment("me~1", 1).resetDelta(), "remote");
    pruner.tick();
    runTurns();
    assert.deepEqual(heldHere(removedNodes), [], "the next tick's scan reports");
  });

  test("after stop, no slice runs", () => {
    const { pruner, removedNodes, runTurns } = setup();
    pruner.tick();
    pruner.stop();
    runTurns();
    pruner.tick();
    assert.deepEqual(heldHere(removedNodes), ["gone"]);
  });
});
