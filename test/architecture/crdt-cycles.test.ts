/**
 * No import cycle inside src/crdt/ (issue 9): the data types form a tree, the registry above the
 * types it lists. Type-only imports count: a cycle of types is still two modules that cannot be
 * read, or changed, one without the other.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cycles, graphOf, sourceImports } from "./imports.js";

test("no import cycle between the modules of src/crdt/", () => {
  const crdt = sourceImports().filter((e) => e.from.startsWith("crdt/") && e.to.startsWith("crdt/"));
  assert.ok(crdt.length > 20, `found only ${crdt.length} imports inside crdt/`);
  assert.deepEqual(cycles(graphOf(crdt, (f) => f)), []);
});
