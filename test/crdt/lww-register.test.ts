import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LWWMap } from "../../src/crdt/index.js";
import { LWWRegister } from "../../src/crdt/lww-register.js";
import type { Element } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, type TypeSpec } from "./laws.js";

type Op = { value: Element; timestamp: number | undefined };

const lwwSpec: TypeSpec<LWWRegister, Op> = {
  name: "LWWRegister",
  empty: () => LWWRegister.empty(),
  op: fc.record({
    value: fc.constantFrom<Element>("x", "y", 1, null, { k: [1n] }, false),
    // Small explicit timestamps collide often (ties on timestamp, and on timestamp + node);
    // undefined takes the default clock.
    timestamp: fc.option(fc.nat({ max: 4 }), { nil: undefined, freq: 4 }),
  }),
  apply: (r, node, { value, timestamp }) => r.set(node, value, timestamp),
};

describe("LWWRegister laws", () => {
  checkMergeLaws(lwwSpec);
  checkDeltaLaws(lwwSpec);
});

describe("LWWRegister", () => {
  test("empty register", () => {
    const r = LWWRegister.empty();
    assert.equal(r.value, undefined);
    assert.equal(r.timestamp, 0);
    assert.equal(r.node, "");
    assert.equal(r.delta, undefined);
    assert.deepEqual(r.toState(), { timestamp: 0, node: "" });
  });

  test("known answer (UnisonDB scenario 1): the later timestamp wins on every replica", () => {
    const dc1 = LWWRegister.empty<string>().set("ad-campaign-dc1", "online", 1698765432000);
    const dc2 = LWWRegister.empty<string>().set("ad-campaign-dc2", "away", 1698765433000);
    for (const r of [dc1.merge(dc2), dc2.merge(dc1)]) {
      assert.equal(r.value, "away");
      assert.equal(r.timestamp, 1698765433000);
      assert.equal(r.node, "ad-campaign-dc2");
    }
  });

  test("known answer (UnisonDB scenario 2): equal timestamps resolve alike on every replica — higher node id wins", () => {
    const ts = 1698765432000;
    const dc1 = LWWRegister.empty<string>().set("ad-campaign-dc1", "DC1 wins?", ts);
    const dc2 = LWWRegister.empty<string>().set("ad-campaign-dc2", "DC2 wins!", ts);
    assert.equal(dc1.merge(dc2).value, "DC2 wins!");
    assert.equal(dc2.merge(dc1).value, "DC2 wins!");
    assert.ok(dc1.merge(dc2).equals(dc2.merge(dc1)));
  });

  test("known answer (UnisonDB scenario 4): a stale write arriving late is ignored", () => {
    const current = LWWRegister.empty<boolean>().set("ad-campaign-dc1", true, 2000);
    const stale = LWWRegister.empty<boolean>().set("ad-campaign-dc2", false, 1000);
    assert.equal(current.merge(stale), current); // unchanged, same value
    assert.equal(current.merge(stale).value, true);
    assert.equal(stale.merge(current).value, true);
    // A local write with an explicit stale timestamp is ignored too: same value, no delta.
    const quiet = current.resetDelta();
    assert.equal(quiet.set("ad-campaign-dc2", false, 1000), quiet);
    assert.equal(quiet.set("ad-campaign-dc2", false, 1000).delta, undefined);
  });

  test("a full tie (same timestamp and node, different value) resolves by canonical encoding, both orders", () => {
    const x = LWWRegister.empty().set("a", "x", 5);
    const y = LWWRegister.empty().set("a", "y", 5);
    assert.equal(x.merge(y).value, "y");
    assert.equal(y.merge(x).value, "y");
  });

  test("the default timestamp is max(now, current + 1): a local overwrite wins over what it read", () => {
    const before = Date.now();
    const r = LWWRegister.empty().set("a", "x");
    assert.ok(r.timestamp >= before && r.timestamp <= Date.now());
    const future = LWWRegister.empty().set("z", "from the future", Date.now() + 3_600_000);
    const over = future.set("a", "mine"); // "a" < "z": a tie would lose, so the timestamp must advance
    assert.equal(over.value, "mine");
    assert.equal(over.timestamp, future.timestamp + 1);
    assert.equal(over.merge(future).value, "mine");
  });

  test("the delta of a set is the whole register", () => {
    const base = LWWRegister.empty().set("a", "x", 10).resetDelta();
    const next = base.set("b", { v: [1, 2] }, 11);
    assert.deepEqual(next.delta?.toState(), { value: "{s1:v[d1;d2;]}", timestamp: 11, node: "b" });
    assert.equal(next.delta?.delta, undefined);
    assert.ok(next.resetDelta().equals(next));
    assert.equal(next.resetDelta().delta, undefined);
  });

  test("the register keeps its own copy of a structured value", () => {
    const v = { list: [1] };
    const r = LWWRegister.empty<{ list: number[] }>().set("a", v, 1);
    v.list.push(2);
    assert.deepEqual(r.value, { list: [1] });
  });

  test("invalid arguments throw InvalidArgumentError with a helpful message", () => {
    const r = LWWRegister.empty();
    for (const ts of [-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, "5", 5n, null]) {
      assert.throws(
        () => r.set("a", "x", ts as number),
        (e: unknown) => e instanceof InvalidArgumentError && /timestamp must be a non-negative safe integer/.test(e.message),
        String(ts),
      );
    }
    for (const bad of [undefined, () => 1, Symbol("s"), NaN, new Date(), new Set(), "\uD83D"]) {
      assert.throws(() => r.set("a", bad as never, 1), InvalidArgumentError, String(typeof bad));
    }
    assert.throws(() => r.set("", "x", 1), (e: unknown) => e instanceof InvalidArgumentError && /node id/.test(e.message));
    const top = r.set("a", "x", Number.MAX_SAFE_INTEGER);
    assert.throws(() => top.set("b", "y"), InvalidArgumentError);
  });

  test("fromState rejects malformed states with DecodeError", () => {
    for (const state of [
      null,
      {},
      { timestamp: 0 },
      { value: "s1:x", timestamp: -1, node: "a" },
      { value: "s1:x", timestamp: 1.5, node: "a" },
      { value: "s1:x", timestamp: 1, node: "" },
      { value: "s1:x", timestamp: 1, node: 5 },
      { value: "x", timestamp: 1, node: "a" },
      { value: "d01;", timestamp: 1, node: "a" },
      { timestamp: 5, node: "" }, // no value but not the empty register
      { timestamp: 0, node: "a" },
      { value: 3, timestamp: 1, node: "a" },
    ]) {
      assert.throws(() => LWWRegister.fromState(state as never), DecodeError, JSON.stringify(state));
    }
    const r = LWWRegister.fromState({ value: "[nt]", timestamp: 7, node: "b" });
    assert.deepEqual(r.value, [null, true]);
    assert.ok(LWWRegister.fromState({ timestamp: 0, node: "" }).equals(LWWRegister.empty()));
  });
});

describe("LWW tie-break: node id, then writer id", () => {
  test("on equal timestamps the higher node id wins, whatever the writers' incarnation suffixes", () => {
    // As raw strings "a~zz" > "a-b~1" ("~" sorts after "-"), but node "a-b" > node "a".
    const fromA = LWWRegister.empty<string>().set("a~zz", "from-a", 7);
    const fromAB = LWWRegister.empty<string>().set("a-b~1", "from-a-b", 7);
    assert.equal(fromA.merge(fromAB).value, "from-a-b");
    assert.equal(fromAB.merge(fromA).value, "from-a-b");
    // A restart (a new incarnation) of the losing node does not change who wins the tie.
    const fromA2 = LWWRegister.empty<string>().set("a~zzzz9", "from-a-again", 7);
    assert.equal(fromA2.merge(fromAB).value, "from-a-b");
    // Two incarnations of one node: the whole writer id decides, alike in both orders.
    const old = LWWRegister.empty<string>().set("n~1", "old", 9);
    const young = LWWRegister.empty<string>().set("n~2", "young", 9);
    assert.equal(old.merge(young).value, "young");
    assert.equal(young.merge(old).value, "young");
    // Plain node ids (no suffix) compare as before.
    assert.equal(LWWRegister.empty<string>().set("b", "b", 1).merge(LWWRegister.empty<string>().set("a", "a", 1)).value, "b");
  });

  test("every replica agrees: three writers, all merge orders, in an LWWMap too", () => {
    const writers = ["a~zz", "a-b~1", "a.c~3"];
    const regs = writers.map((w) => LWWRegister.empty<string>().set(w, w, 100));
    const orders = [
      [0, 1, 2],
      [2, 1, 0],
      [1, 0, 2],
      [1, 2, 0],
    ];
    const winners = new Set(orders.map((o) => o.reduce((acc, i) => acc.merge(regs[i]!), LWWRegister.empty<string>()).value));
    assert.deepEqual([...winners], ["a.c~3"]); // node "a.c" is the highest of "a", "a-b", "a.c"
    const maps = writers.map((w) => LWWMap.empty<string, string>().put(w, "k", w, 100));
    const mapWinners = new Set(orders.map((o) => o.reduce((acc, i) => acc.merge(maps[i]!), LWWMap.empty<string, string>()).get("k")));
    assert.deepEqual([...mapWinners], ["a.c~3"]);
  });
});
