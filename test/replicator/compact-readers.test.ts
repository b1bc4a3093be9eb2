/** Who reads compact delta envelopes: a peer's latest heartbeat decides; unheard peers do not. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CompactReaders } from "../../src/replicator/compact-readers.js";

test("every peer must have said so in its latest heartbeat; a removed one must say so again", () => {
  const r = new CompactReaders();
  assert.equal(r.all([]), true, "alone: nobody to misread");
  assert.equal(r.all(["b"]), false, "known but not heard yet (a peer's account at start)");
  r.heard("b", true);
  r.heard("c", false); // a release before compact envelopes
  assert.equal(r.all(["b"]), true);
  assert.equal(r.all(["b", "c"]), false);
  assert.deepEqual([r.reads("b"), r.reads("c")], [true, false]);
  r.heard("b", false); // restarted with the previous release
  assert.equal(r.all(["b"]), false);
  r.heard("b", true);
  r.forget("b");
  assert.equal(r.reads("b"), false);
});
