/**
 * The change events side concerns and applications listen to (the change stream, announced by
 * replicator/changes.ts): every change the store accepts, once, with where it came from.
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import type { TombstoneInfo } from "./store-view.js";

/**
 * Where a change came from: a write on this node, a delta published by another node of this DC,
 * a merge of state exchanged inside this DC (anti-entropy, read repair, coordinated write or push),
 * or data from another data center (a cross-DC batch, or a cross-DC round's pull).
 */
export type ChangeOrigin = "local" | "dc" | "sync" | "remote-dc";

interface ChangeBase {
  key: string;
  kind: DataKind;
  origin: ChangeOrigin;
  /** The node that wrote it, for "local" and "dc" changes; undefined otherwise. */
  node: string | undefined;
  /** For "remote-dc" changes that came in a cross-DC batch: the data center that sent it. */
  dataCenter?: string;
}

/** The key's value changed. */
export interface ValueChange extends ChangeBase {
  /** The key's value now. */
  value: Crdt;
  /** What was merged in: the write's delta, or the value received (a full state in a round). */
  delta: Crdt;
  tombstone?: undefined;
}

/** The key was deleted. */
export interface DeleteChange extends ChangeBase {
  value?: undefined;
  delta?: undefined;
  tombstone: TombstoneInfo;
}

export type Change = ValueChange | DeleteChange;

export type ChangeListener = (change: Change) => void;

/** A data type, with the value type of an ORMap. */
export interface DataTypeName {
  kind: DataKind;
  /** For an ORMap: the kind of its values. */
  valueKind?: DataKind;
}

/**
 * A key held a value of one data type here and a value of another type arrived: the key's type is
 * now the winner's on every replica (the lower wire tag wins; see README "Type conflicts"), and this
 * replica's value of the losing type is gone. A writer that used the losing type hears it here; its
 * later updates with that type throw KeyTypeMismatchError.
 */
export interface TypeConflict {
  key: string;
  /** The type the key holds from now on, on every replica. */
  kept: DataTypeName;
  /** The losing type, and this replica's value of it (discarded). */
  discarded: DataTypeName & { value: Crdt };
  /** Where the winning value came from. */
  origin: ChangeOrigin;
}

export type TypeConflictListener = (conflict: TypeConflict) => void;
