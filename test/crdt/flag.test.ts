import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Flag } from "../../src/crdt/flag.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, type TypeSpec } from "./laws.js";

const flagSpec: TypeSpec<Flag, { act: boolean; withNode: boolean }> = {
  name: "Flag",
  empty: () => Flag.empty(),
  // Mostly leave it alone, so many histories stay disabled on some replicas.
  op: fc.record({ act: fc.boolean(), withNode: fc.boolean() }),
  apply: (f, node, { act, withNode }) => (act ? (withNode ? f.enable(node) : f.enable()) : f),
};

describe("Flag laws", () => {
  checkMergeLaws(flagSpec);
  checkDeltaLaws(flagSpec);
});

describe("Flag", () => {
  test("starts disabled; once enabled stays enabled, whatever it merges with", () => {
    const off = Flag.empty();
    assert.equal(off.enabled, false);
    const on = off.enable();
    assert.equal(on.enabled, true);
    assert.equal(on.merge(off).enabled, true);
    assert.equal(off.merge(on).enabled, true);
    assert.equal(on.merge(Flag.fromState({ enabled: false })).enabled, true);
    assert.equal(off.enabled, false); // the source is untouched
  });

  test("delta: enabling carries an enabled delta; enabling twice changes nothing", () => {
    const on = Flag.empty().enable("a");
    assert.equal(on.delta?.enabled, true);
    const quiet = on.resetDelta();
    assert.equal(quiet.delta, undefined);
    assert.equal(quiet.enable(), quiet);
    assert.equal(Flag.empty().delta, undefined);
  });

  test("enable accepts the writing node for uniformity, and validates it", () => {
    assert.equal(Flag.empty().enable("node-1").enabled, true);
    assert.throws(() => Flag.empty().enable(""), InvalidArgumentError);
    assert.throws(() => Flag.empty().enable(3 as never), InvalidArgumentError);
  });

  test("fromState rejects malformed states with DecodeError; proto3 may omit a false bool", () => {
    for (const state of [null, 1, { enabled: "yes" }, { enabled: 1 }, { enabled: null }]) {
      assert.throws(() => Flag.fromState(state as never), DecodeError, JSON.stringify(state));
    }
    assert.equal(Flag.fromState({} as never).enabled, false);
    assert.deepEqual(Flag.empty().enable().toState(), { enabled: true });
  });
});
