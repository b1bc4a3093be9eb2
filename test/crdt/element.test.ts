import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { canonical, compareCanonical, decodeCanonical, isCanonical } from "../../src/crdt/element.js";
import type { Element } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { fcParams } from "./laws.js";

const key = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", ""),
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }),
);

const { value: anyElement } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(key, tie("value"), { maxKeys: 4 }), // includes null-prototype objects
  ),
}));
const element = anyElement as fc.Arbitrary<Element>;

/** What decoding gives back: -0 → 0, objects rebuilt as plain objects (own "__proto__" kept). */
function normalize(v: unknown): unknown {
  if (typeof v === "number") return Object.is(v, -0) ? 0 : v;
  if (Array.isArray(v)) return v.map(normalize);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.keys(v).map((k) => [k, normalize((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The same value with every object's keys inserted in reverse order. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v instanceof Uint8Array) return v;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reverseKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

describe("canonical element encoding", () => {
  test("round trip: decode(canonical(x)) equals x and re-encodes identically", () => {
    fc.assert(
      fc.property(element, (x) => {
        const text = canonical(x);
        const back = decodeCanonical(text);
        assert.deepStrictEqual(back, normalize(x));
        assert.equal(canonical(back), text);
        assert.ok(isCanonical(text));
      }),
      fcParams(),
    );
  });

  test("object key order does not matter", () => {
    fc.assert(
      fc.property(element, (x) => {
        assert.equal(canonical(reverseKeys(x) as Element), canonical(x));
      }),
      fcParams(),
    );
    assert.equal(canonical({ b: 1, a: [2, { d: 3, c: 4 }] }), canonical({ a: [2, { c: 4, d: 3 }], b: 1 }));
  });

  test("equal encodings mean equal values (distinct values never collide)", () => {
    fc.assert(
      fc.property(element, element, (x, y) => {
        if (canonical(x) === canonical(y)) assert.deepStrictEqual(normalize(x), normalize(y));
        else assert.notDeepStrictEqual(normalize(x), normalize(y));
      }),
      fcParams(),
    );
    const distinct: Element[] = [1, "1", 1n, true, "t", null, "n", [], {}, "", new Uint8Array(), [1], { 1: 1 }, ["a", "b"], ["ab"]];
    assert.equal(new Set(distinct.map(canonical)).size, distinct.length);
    assert.equal(canonical(-0), canonical(0));
  });

  test("compareCanonical is a total order consistent with string order", () => {
    const sorted = ["s1:b", "d2;", "s1:a", "d10;"].sort(compareCanonical);
    assert.deepEqual(sorted, ["d10;", "d2;", "s1:a", "s1:b"]);
    assert.equal(compareCanonical("s1:a", "s1:a"), 0);
  });

  test("__proto__ and constructor keys stay data: no prototype pollution", () => {
    const text = "{s9:__proto__{s8:pollutedt}s11:constructor{s9:prototype{s8:pollutedt}}}";
    assert.ok(isCanonical(text));
    const decoded = decodeCanonical(text) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
    assert.equal((Object.prototype as Record<string, unknown>)["polluted"], undefined);
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.ok(Object.hasOwn(decoded, "__proto__"));
    assert.deepEqual(Object.keys(decoded), ["__proto__", "constructor"]);
    assert.equal(decoded["polluted"], undefined);
    // JSON.parse also makes "__proto__" an own key; the encoding keeps it.
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}') as Element;
    assert.equal(canonical(parsed), text);
    // A literal __proto__ sets the prototype instead: not a plain object, rejected rather than lost.
    assert.throws(() => canonical({ __proto__: { polluted: true } } as unknown as Element), InvalidArgumentError);
    assert.equal(canonical(Object.create(null) as Element), "{}");
  });

  test("unsupported inputs throw InvalidArgumentError naming what is allowed", () => {
    class Point {
      constructor(readonly x = 1) {}
    }
    const sparse = [1, , 3];
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    const bad: unknown[] = [
      undefined,
      () => 1,
      Symbol("s"),
      NaN,
      Infinity,
      -Infinity,
      new Date(0),
      new Map(),
      new Set(),
      new Point(),
      /re/,
      "\uD800",
      "a\uDC00b",
      { k: "\uD800" },
      { ["\uDFFF"]: 1 },
      { a: undefined },
      [undefined],
      sparse,
      deep,
      new Uint16Array(2),
    ];
    for (const x of bad) {
      assert.throws(
        () => canonical(x as Element),
        (e: unknown) => e instanceof InvalidArgumentError && e.name === "InvalidArgumentError" && e.message.length > 10,
        `should reject ${typeof x} ${String(x instanceof Object ? x.constructor?.name : x)}`,
      );
    }
    assert.throws(() => canonical(new Date(0) as never), /Date is not a plain object/);
  });

  test("garbage strings throw DecodeError", () => {
    const garbage = ["", "x", "s", "s5:ab", "s-1:", "sx:a", "dabc;", "d1", "i1.5;", "i;", "i12", "[", "[d1;", "{", "{s1:a", "{d1;t}", "tt", "b!!;", "b", "]", "}", "[}", "{s1:a]"];
    for (const text of garbage) {
      assert.throws(() => decodeCanonical(text), DecodeError, JSON.stringify(text));
      assert.equal(isCanonical(text), false, JSON.stringify(text));
    }
    let deep = "";
    for (let i = 0; i < 100; i++) deep = "[" + deep + "]";
    assert.throws(() => decodeCanonical(deep), DecodeError);
  });

  test("decodable but non-canonical strings are not canonical", () => {
    for (const text of ["d;", "d1.0;", "d 1;", "d0x10;", "d-0;", "i01;", "i-0;", "bQQ;", "{s1:bts1:af}", "{s1:ats1:af}", "s1:\uD800"]) {
      assert.equal(isCanonical(text), false, JSON.stringify(text));
    }
  });

  test("arbitrary strings never crash the decoder: a value or DecodeError", () => {
    const near = element.chain((x) => {
      const text = canonical(x);
      return fc.tuple(fc.nat({ max: text.length }), fc.nat({ max: 3 }), fc.string({ unit: "binary-ascii", maxLength: 3 })).map(
        ([at, cut, insert]) => text.slice(0, at) + insert + text.slice(at + cut),
      );
    });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 30 }), near), (text) => {
        try {
          decodeCanonical(text);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
        const ok = isCanonical(text);
        if (ok) assert.equal(canonical(decodeCanonical(text)), text);
      }),
      fcParams(),
    );
  });
});
