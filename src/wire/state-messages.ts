/**
 * The protobuf message types of the CRDT states (proto/crdt.proto), and the shapes protobufjs
 * decodes them into — what states.ts reads and writes.
 */
import { type Int64, messageType } from "./pb.js";

/** The message types, by name (the state types above are resolved by kind in states.ts). */
export const T = {
  Slot: messageType("Slot"),
  Dot: messageType("Dot"),
  CausalContext: messageType("CausalContext"),
  GCounterState: messageType("GCounterState"),
  PNCounterState: messageType("PNCounterState"),
  GSetState: messageType("GSetState"),
  ORSetEntry: messageType("ORSetEntry"),
  ORSetState: messageType("ORSetState"),
  LWWRegisterState: messageType("LWWRegisterState"),
  MVRegisterEntry: messageType("MVRegisterEntry"),
  MVRegisterState: messageType("MVRegisterState"),
  FlagState: messageType("FlagState"),
  ORMapEntry: messageType("ORMapEntry"),
  ORMapState: messageType("ORMapState"),
};

// What protobufjs decodes (absent sub-messages read as null from the prototype).
export interface PbSlot {
  node: string;
  value: Int64;
}
export interface PbDot {
  node: string;
  counter: Int64;
}
export interface PbContext {
  vector: PbSlot[];
  cloud: PbDot[];
}
export interface PbGCounter {
  slots: PbSlot[];
}
export interface PbPNCounter {
  increments: PbGCounter | null;
  decrements: PbGCounter | null;
}
export interface PbGSet {
  elements: string[];
}
export interface PbORSet {
  entries: { element: string; dots: PbDot[] }[];
  context: PbContext | null;
}
export interface PbLWWRegister {
  value?: string | null;
  timestamp: Int64;
  node: string;
}
export interface PbMVRegister {
  entries: { dot: PbDot | null; value: string }[];
  context: PbContext | null;
}
export interface PbFlag {
  enabled: boolean;
}
export interface PbORMap {
  valueType: number;
  keys: PbORSet | null;
  values: { key: string; value: Uint8Array; dot?: PbDot | null }[];
}
