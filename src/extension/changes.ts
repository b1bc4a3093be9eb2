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
