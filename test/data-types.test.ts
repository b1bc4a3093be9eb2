/**
 * One descriptor per data type (issue 9): every table that maps kinds — the registry, typed keys,
 * the wire enum and state codec, the daemon's JSON names — is derived from the registration list,
 * so a descriptor registered there is picked up by each; and the ORMap nesting rule is the one
 * stated on the descriptors.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ORMap, type Crdt, type DataKind } from "../src/crdt/index.js";
import { holdableByORMap, nestsInORMap, takesValueKind } from "../src/crdt/descriptor.js";
import { DATA_KINDS, DATA_TYPES, dataType, emptyOf, fromState } from "../src/crdt/registry.js";
import { InvalidArgumentError } from "../src/errors.js";
import { Key } from "../src/replicator/keys.js";
import { dataTypeOf, DataType, decodeValue, encodeValue, isMapKind, kindOf } from "../src/wire/codec.js";
import { stateType } from "../src/wire/states.js";
import { BodyError, parseOperation, parseType, typeName, view } from "../packages/crdt-node/src/codec-json.js";

/** The empty value of a type, with gcounter values for a map that names its own. */
function emptyValue(kind: DataKind): Crdt {
  return takesValueKind(dataType(kind)) ? emptyOf(kind, "gcounter") : emptyOf(kind);
}

/** The wire enum's spelling of a kind: lwwRegister → LWW_REGISTER. */
function enumName(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

describe("data type descriptors", () => {
  test("the registration list is the one list of kinds: distinct kinds, wire tags and names", () => {
    assert.deepEqual(DATA_KINDS, DATA_TYPES.map((t) => t.kind));
    for (const field of ["kind", "wireTag", "name"] as const) {
      assert.equal(new Set(DATA_TYPES.map((t) => t[field])).size, DATA_TYPES.length, `${field}s are distinct`);
    }
  });

  for (const type of DATA_TYPES) {
    test(`${type.kind}: registry, keys, wire and JSON codec all know it`, () => {
      const empty = emptyValue(type.kind);
      // registry
      assert.equal(dataType(type.kind), type);
      assert.equal(empty.kind, type.kind);
      assert.ok(fromState(type.kind, empty.toState()).equals(empty));
      // wire: the enum number (as proto/crdt.proto spells it), the state message, a value round trip
      assert.equal(DataType[enumName(type.kind)], type.wireTag);
      assert.equal(dataTypeOf(type.kind), type.wireTag);
      assert.equal(kindOf(type.wireTag), type.kind);
      assert.equal(stateType(type.kind).name, type.stateMessage);
      assert.equal(isMapKind(type.kind), type.map !== undefined);
      assert.ok(decodeValue(type.kind, encodeValue(empty)).equals(empty));
      // typed keys
      const key = Key.of("k", type.kind, takesValueKind(type) ? "gcounter" : undefined);
      assert.equal(key.kind, type.kind);
      assert.equal(key.valueKind, takesValueKind(type) ? "gcounter" : undefined);
      // the daemon's JSON codec
      assert.equal(parseType(typeName(type.kind)), type.kind);
      assert.equal(parseType(type.kind.toUpperCase()), type.kind);
      assert.doesNotThrow(() => view(empty));
      assert.ok(type.json !== undefined && Object.keys(type.json.ops).length > 0, "every built-in type has a JSON view and operations");
    });
  }

  test("every number of the wire enum but UNSPECIFIED belongs to a registered type", () => {
    for (const [name, n] of Object.entries(DataType)) {
      if (n === 0) continue;
      assert.equal(enumName(kindOf(n)), name);
    }
  });

  test("the ORMap nesting rule is stated once: Key.orMap and the HTTP API apply nestsInORMap", () => {
    assert.ok(DATA_TYPES.some(nestsInORMap) && !DATA_TYPES.every(nestsInORMap), "the rule admits some kinds and refuses others");
    for (const type of DATA_TYPES) {
      const body = { type: "ormap", op: "update", field: "f", valueType: typeName(type.kind), update: { op: "none" } };
      if (nestsInORMap(type)) {
        assert.equal(Key.orMap("k", type.kind).valueKind, type.kind);
        // Accepted as a value type: the error is about the inner operation, not the valueType.
        assert.throws(() => parseOperation(body), (e: Error) => e instanceof BodyError && /update\.op/.test(e.message));
      } else {
        assert.throws(() => Key.orMap("k", type.kind), InvalidArgumentError);
        assert.throws(() => parseOperation(body), (e: Error) => e instanceof BodyError && /valueType must be one of/.test(e.message));
      }
    }
  });

  test("a standalone ORMap holds any type whose empty value needs no value kind (holdableByORMap)", () => {
    for (const type of DATA_TYPES) {
      if (holdableByORMap(type)) assert.equal(ORMap.empty(type.kind).valueKind, type.kind);
      else assert.throws(() => ORMap.empty(type.kind), InvalidArgumentError);
    }
    assert.ok(DATA_TYPES.filter(nestsInORMap).every(holdableByORMap), "what a key may nest, a value can hold");
  });
});
