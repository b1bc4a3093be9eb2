/**
 * Default LWW timestamps come from the clock the caller installs; `maxLwwTimestamp` finds the
 * largest timestamp any value carries (what the replicator's skew bound checks).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GCounter, LWWMap, LWWRegister, ORMap, ORSet } from "../../src/index.js";
import { lwwNow, maxLwwTimestamp, withLwwClock } from "../../src/crdt/lww-time.js";
import { assertProperty } from "../cluster/fc-seed.js";

describe("withLwwClock", () => {
  test("writes without a timestamp take the installed clock's, only inside the call", () => {
    const r = withLwwClock(() => 42_000, () => LWWRegister.empty<string>().set("n", "x"));
    assert.equal(r.timestamp, 42_000);
    const m = withLwwClock(() => 43_000, () => LWWMap.empty<string, string>().put("n", "k", "v"));
    assert.equal(maxLwwTimestamp(m), 43_000);
    assert.ok(Math.abs(lwwNow() - Date.now()) < 1_000, "outside: the wall clock again");
    assert.throws(() => withLwwClock(() => 1, () => {
      throw new Error("boom");
    }));
    assert.ok(Math.abs(lwwNow() - Date.now()) < 1_000, "restored after a throw");
  });
});

describe("maxLwwTimestamp", () => {
  test("registers, LWW maps (present fields: a removed one's value is gone), ORMaps of registers and of LWW maps; 0 without LWW", () => {
    assert.equal(maxLwwTimestamp(LWWRegister.empty()), 0);
    assert.equal(maxLwwTimestamp(LWWRegister.empty<string>().set("n", "x", 7)), 7);
    const m = LWWMap.empty<string, string>().put("n", "a", "1", 10).put("n", "b", "2", 30).remove("n", "b");
    assert.equal(maxLwwTimestamp(m), 10, "a removed field's value is dropped (reset-remove), so it no longer counts");
    const regs = ORMap.empty<LWWRegister<string>, string>("lwwRegister").update("n", "k", (r, n) => r.set(n, "v", 99));
    assert.equal(maxLwwTimestamp(regs), 99);
    const maps = ORMap.empty<LWWMap<string, string>, string>("lwwMap").update("n", "k", (v, n) => v.put(n, "f", "v", 123));
    assert.equal(maxLwwTimestamp(maps), 123);
    assert.equal(maxLwwTimestamp(GCounter.empty().increment("n", 5)), 0);
    assert.equal(maxLwwTimestamp(ORSet.empty<string>().add("n", "x")), 0);
    assert.equal(maxLwwTimestamp(ORMap.empty<GCounter, string>("gcounter").update("n", "k", (c, n) => c.increment(n, 1e6))), 0);
  });

  test("equals the largest timestamp written into an LWW map, and merging never exceeds both sides' maxima", () => {
    const write = fc.record({ key: fc.constantFrom("a", "b", "c"), ts: fc.nat(2 ** 50), remove: fc.boolean() });
    assertProperty(
      "max timestamp",
      fc.property(fc.array(write, { maxLength: 20 }), fc.array(write, { maxLength: 20 }), (left, right) => {
        // The largest timestamp written to each key since its last remove (a remove drops the value).
        const build = (node: string, ws: typeof left): [LWWMap<string, string>, number] => {
          let m = LWWMap.empty<string, string>();
          const since = new Map<string, number>();
          for (const w of ws) {
            m = w.remove ? m.remove(node, w.key) : m.put(node, w.key, "v", w.ts);
            if (w.remove) since.delete(w.key);
            else since.set(w.key, Math.max(since.get(w.key) ?? 0, w.ts));
          }
          return [m, Math.max(0, ...since.values())];
        };
        const [l, lMax] = build("n", left);
        const [r, rMax] = build("m", right);
        assert.equal(maxLwwTimestamp(l), lMax);
        assert.equal(maxLwwTimestamp(l.merge(r)), Math.max(lMax, rMax));
      }),
    );
  });
});
