/**
 * Layers that point one way (issue 9): every import in src/ follows the directions ARCHITECTURE.md
 * allows, the layers have no cycle, and the side concerns and the daemon never reach into the
 * replicator; the daemon package imports the library only as `crdt-replicator`. The checker itself is tested on a wrong-way import, so a broken parser cannot pass
 * by finding nothing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { join, normalize } from "node:path";
import { allowedDirections, cycles, graphOf, importsUnder, layerOf, ROOT, sourceImports, violations, type Edge } from "./imports.js";

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

  test("durable/, metrics/ and xdc/ import nothing of replicator/", () => {
    const intoReplicator = edges.filter((e) => ["durable", "metrics", "xdc"].includes(layerOf(e.from)) && layerOf(e.to) === "replicator");
    assert.deepEqual(intoReplicator, []);
  });

  test("the daemon package imports the library only as crdt-replicator: no path out of packages/crdt-node/, no deep import", () => {
    const daemon = join(ROOT, "packages", "crdt-node");
    const imports = importsUnder(daemon);
    const outside = imports.filter(({ from, spec }) => spec.startsWith(".") && normalize(join(from, "..", spec)).startsWith(".."));
    assert.deepEqual(outside, []);
    assert.deepEqual(imports.filter(({ spec }) => spec.startsWith("crdt-replicator/")), []);
    const users = new Set(imports.filter(({ spec }) => spec === "crdt-replicator").map(({ from }) => from));
    for (const file of ["src/daemon.ts", "src/http-api.ts", "src/codec-json.ts", "bin/crdt-node.ts"]) assert.ok(users.has(file), `${file} imports crdt-replicator`);
  });

  test("the checks catch a wrong-way import and a cycle", () => {
    const wrong = [{ from: "xdc/flusher.ts", to: "replicator/store.ts" }];
    assert.equal(violations(wrong, allowed).length, 1);
    const fileEntry = new Map([["cluster", new Set(["transport/nats.ts"])]]);
    assert.equal(violations([{ from: "cluster/x.ts", to: "transport/memory.ts" }], fileEntry).length, 1, "a file entry allows that file only");
    assert.deepEqual(violations([{ from: "cluster/x.ts", to: "transport/nats.ts" }], fileEntry), []);
    const loop = [...wrong, { from: "replicator/replicator.ts", to: "xdc/replication.ts" }];
    assert.deepEqual(cycles(graphOf(loop, layerOf)), [["replicator", "xdc"]]);
  });
});
