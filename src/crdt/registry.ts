/**
 * Kind → class dispatch: the one place that knows every data type. The wire layer, the store and
 * anti-entropy use it to build an empty value or decode a state without a switch of their own.
 */
import { DecodeError, InvalidArgumentError } from "../errors.js";
import { Flag } from "./flag.js";
import { GCounter } from "./gcounter.js";
import { GSet } from "./gset.js";
import { LWWMap } from "./lww-map.js";
import { LWWRegister } from "./lww-register.js";
import { MVRegister } from "./mv-register.js";
import { ORMap } from "./ormap.js";
import { ORSet } from "./orset.js";
import { PNCounter } from "./pncounter.js";
import { PNCounterMap } from "./pncounter-map.js";
import type {
  AnyState,
  Crdt,
  DataKind,
  FlagState,
  GCounterState,
  GSetState,
  LWWRegisterState,
  MVRegisterState,
  ORMapState,
  ORSetState,
  PNCounterState,
} from "./types.js";

/** The empty value of `kind`. `orMap` needs the kind of its values. */
export function emptyOf(kind: DataKind, valueKind?: DataKind): Crdt {
  switch (kind) {
    case "gcounter":
      return GCounter.empty();
    case "pncounter":
      return PNCounter.empty();
    case "gset":
      return GSet.empty();
    case "orset":
      return ORSet.empty();
    case "lwwRegister":
      return LWWRegister.empty();
    case "mvRegister":
      return MVRegister.empty();
    case "flag":
      return Flag.empty();
    case "lwwMap":
      return LWWMap.empty();
    case "orMap":
      if (valueKind === undefined) {
        throw new InvalidArgumentError("orMap needs a valueKind (the data type of its values), e.g. emptyOf(\"orMap\", \"orset\")");
      }
      return ORMap.empty(valueKind);
    case "pncounterMap":
      return PNCounterMap.empty();
    default:
      throw new InvalidArgumentError(`unknown data kind ${JSON.stringify(kind)}`);
  }
}

/** Decode a plain state of `kind` (validated by the type's own `fromState`; DecodeError if malformed). */
export function fromState(kind: DataKind, state: AnyState): Crdt {
  switch (kind) {
    case "gcounter":
      return GCounter.fromState(state as GCounterState);
    case "pncounter":
      return PNCounter.fromState(state as PNCounterState);
    case "gset":
      return GSet.fromState(state as GSetState);
    case "orset":
      return ORSet.fromState(state as ORSetState);
    case "lwwRegister":
      return LWWRegister.fromState(state as LWWRegisterState);
    case "mvRegister":
      return MVRegister.fromState(state as MVRegisterState);
    case "flag":
      return Flag.fromState(state as FlagState);
    case "lwwMap":
      return LWWMap.fromState(state as ORMapState);
    case "orMap":
      return ORMap.fromState(state as ORMapState);
    case "pncounterMap":
      return PNCounterMap.fromState(state as ORMapState);
    default:
      throw new DecodeError(`unknown data kind ${JSON.stringify(kind)}`);
  }
}
