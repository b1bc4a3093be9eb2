/**
 * The data types: the one list of them. Everything that needs every type (building an empty value
 * or decoding a state by kind, typed keys, the wire enum, the daemon's JSON names) derives it from
 * this list of descriptors; each descriptor lives in its type's own module.
 */
import { DecodeError, InvalidArgumentError } from "../errors.js";
import { registerDataTypes, type DataTypeDescriptor, type DataTypes } from "./descriptor.js";
import { flagType } from "./flag.js";
import { gcounterType } from "./gcounter.js";
import { gsetType } from "./gset.js";
import { lwwMapType } from "./lww-map.js";
import { lwwRegisterType } from "./lww-register.js";
import { mvRegisterType } from "./mv-register.js";
import { orMapType } from "./ormap.js";
import { orMultiMapType } from "./ormultimap.js";
import { orsetType } from "./orset.js";
import { pncounterType } from "./pncounter.js";
import { pncounterMapType } from "./pncounter-map.js";
import type { AnyState, Crdt, DataKind } from "./types.js";

/** Every data type, in the order of the wire enum `DataType`. A new type is one more entry here. */
export const DATA_TYPES: readonly DataTypeDescriptor[] = [
  gcounterType,
  pncounterType,
  gsetType,
  orsetType,
  lwwRegisterType,
  mvRegisterType,
  flagType,
  lwwMapType,
  orMapType,
  pncounterMapType,
  orMultiMapType,
];

/** Every DataKind, in the order of the wire enum `DataType`. */
export const DATA_KINDS: readonly DataKind[] = DATA_TYPES.map((type) => type.kind);

const BY_KIND = new Map<unknown, DataTypeDescriptor>(DATA_TYPES.map((type) => [type.kind, type]));

/** The registered data types (the lookup ORMap and the other layers use). */
export const dataTypes: DataTypes = {
  all: DATA_TYPES,
  get: (kind) => BY_KIND.get(kind),
};
registerDataTypes(dataTypes);

/** The descriptor of `kind`; InvalidArgumentError when it is not a data kind. */
export function dataType(kind: DataKind): DataTypeDescriptor {
  const type = BY_KIND.get(kind);
  if (type === undefined) throw new InvalidArgumentError(`unknown data kind ${JSON.stringify(kind)}`);
  return type;
}

/** The empty value of `kind`. `orMap` needs the kind of its values. */
export function emptyOf(kind: DataKind, valueKind?: DataKind): Crdt {
  return dataType(kind).empty(valueKind);
}

/** Decode a plain state of `kind` (validated by the type's own `fromState`; DecodeError if malformed). */
export function fromState(kind: DataKind, state: AnyState): Crdt {
  const type = BY_KIND.get(kind);
  if (type === undefined) throw new DecodeError(`unknown data kind ${JSON.stringify(kind)}`);
  return type.fromState(state);
}
