/** The data types: pure immutable values and their math (no I/O). */
export type {
  AnyState,
  CausalContextState,
  Crdt,
  DataKind,
  DotState,
  Element,
  FlagState,
  GCounterState,
  GSetState,
  LWWRegisterState,
  MVRegisterState,
  ORMapState,
  ORSetState,
  PNCounterState,
  SlotState,
  StateByKind,
} from "./types.js";
export type { CausalContext, Dot } from "./causal.js";
export type { Adoptions } from "./writer-ids.js";
export { canonical, compareCanonical, decodeCanonical, isCanonical } from "./element.js";
export { GCounter } from "./gcounter.js";
export { PNCounter } from "./pncounter.js";
export { GSet } from "./gset.js";
export { ORSet } from "./orset.js";
export { LWWRegister } from "./lww-register.js";
export { MVRegister } from "./mv-register.js";
export { Flag } from "./flag.js";
export { LWWMap } from "./lww-map.js";
export { ORMap } from "./ormap.js";
export { PNCounterMap } from "./pncounter-map.js";
export { ORMultiMap } from "./ormultimap.js";
export { DATA_KINDS, DATA_TYPES, dataType, emptyOf, fromState } from "./registry.js";
export {
  nestsInORMap,
  takesValueKind,
  type DataTypeDescriptor,
  type DotsCapability,
  type Json,
  type JsonCapability,
  type JsonView,
  type JsonWriter,
  type MapCapability,
  type OpArgs,
  type PruningCapability,
} from "./descriptor.js";
