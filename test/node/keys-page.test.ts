/** Pages of GET /v1/keys (pure): order, cursors, a cursor for another prefix or not from the API. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError } from "../../src/index.js";
import { compareKeys, keysPage } from "../../packages/crdt-node/src/keys-page.js";

test("pages follow one another by the last key; keys added behind the cursor are not revisited", () => {
  const keys = ["a", "b", "c", "d", "e"];
  const first = keysPage(keys, "", 2, undefined);
  assert.deepEqual(first.keys, ["a", "b"]);
  const second = keysPage(["a", "aa", "b", "bb", "c", "d", "e"], "", 2, first.nextCursor!);
  assert.deepEqual(second.keys, ["bb", "c"], "after b, whatever came and went");
  const third = keysPage(["c", "d", "e"].filter((k) => k !== "d"), "", 2, second.nextCursor!);
  assert.deepEqual(third, { keys: ["e"], nextCursor: null });
  assert.deepEqual(keysPage(keys, "", 5, undefined).nextCursor, null, "exactly one full page: no next");
  assert.deepEqual(keysPage([], "", 5, undefined), { keys: [], nextCursor: null });
  assert.deepEqual(["é", "z", "Z", "a"].sort(compareKeys), ["Z", "a", "z", "é"]);
});

test("a cursor is kept to its prefix and must be one the API gave", () => {
  const c = keysPage(["p-1", "p-2"], "p-", 1, undefined).nextCursor!;
  assert.throws(() => keysPage(["q-1"], "q-", 1, c), (e: unknown) => e instanceof InvalidArgumentError && /keep the prefix/.test(e.message));
  for (const bad of ["nonsense", Buffer.from("[]").toString("base64url"), Buffer.from('{"after":1,"prefix":""}').toString("base64url")]) {
    assert.throws(() => keysPage([], "", 1, bad), /cursor is not one this API gave/);
  }
});
