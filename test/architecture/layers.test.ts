/**
 * Layers that point one way (issue 9): every import in src/ follows the directions ARCHITECTURE.md
 * allows, the layers have no cycle, and the side concerns and the daemon never reach into the
 * replicator. The checker itself is tested on a wrong-way import, so a broken parser cannot pass
 * by finding nothing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { allowedDirections, cycles, graphOf, layerOf, sourceImports, violations, type Edge } from "./imports.js";

const edges = sourceImports();
const allowed = allowedDirections();

describe("layers", () => {
  test("the source has imports to check, and the table names every layer of src/", () => {
    assert.ok(edges.length > 200, `found only ${edges.length} imports in src/`);
    const layers = new Set(edges.flatMap((e) => [layerOf(e.from), layerOf(e.to)]));
    for (const layer of layers) assert.ok(allowed.has(layer), `layer "${layer}" is missing from ARCHITECTURE.md's table`);
    for (const [layer, targets] of allowed) {
      for (const t of targets) assert.ok(allowed.has(layerOf(t)), `"${layer}" may import "${t}", which is no layer in the table`);
    }
  });

  test("every import in src/ points a direction ARCHITECTURE.md allows", () => {
    assert.deepEqual(violations(edges, allowed), []);
  });

  test("no cycle between layers, in the source or in the table", () => {
    assert.deepEqual(cycles(graphOf(edges, layerOf)), []);
    const table: Edge[] = [...allowed].flatMap(([layer, targets]) => [...targets].map((t) => ({ from: `${layer}/x`, to: `${layerOf(t)}/x` })));
    assert.deepEqual(cycles(graphOf(table, layerOf)), []);
  });

  test("durable/, metrics/, xdc/ and node/ import nothing of replicator/; node/ takes the library from index.ts", () => {
    const intoReplicator = edges.filter((e) => ["durable", "metrics", "xdc", "node"].includes(layerOf(e.from)) && layerOf(e.to) === "replicator");
    assert.deepEqual(intoReplicator, []);
    assert.ok(edges.some((e) => layerOf(e.from) === "node" && e.to === "index.ts"));
  });

  test("the checks catch a wrong-way import and a cycle", () => {
    const wrong = [{ from: "xdc/flusher.ts", to: "replicator/store.ts" }];
    assert.equal(violations(wrong, allowed).length, 1);
    assert.equal(violations([{ from: "node/daemon.ts", to: "transport/memory.ts" }], allowed).length, 1, "a file entry allows that file only");
    assert.deepEqual(violations([{ from: "node/daemon.ts", to: "transport/nats.ts" }], allowed), []);
    const loop = [...wrong, { from: "replicator/replicator.ts", to: "xdc/replication.ts" }];
    assert.deepEqual(cycles(graphOf(loop, layerOf)), [["replicator", "xdc"]]);
  });
});
