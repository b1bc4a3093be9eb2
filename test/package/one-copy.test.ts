/**
 * In the repository, the daemon's `import ... from "crdt-replicator"` and the tests' imports of
 * src/index.ts load one copy of the library (tsconfig paths, which tsx honours): classes and errors
 * the daemon uses are the ones tests check with instanceof. Two copies would fail these checks.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BodyError } from "../../packages/crdt-node/src/codec-json.js";
import { CrdtReplicatorError } from "../../src/index.js";

test("the daemon's library is the tests' library: the daemon's errors extend the tests' CrdtReplicatorError", () => {
  assert.ok(new BodyError("x") instanceof CrdtReplicatorError);
});
