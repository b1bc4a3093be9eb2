/**
 * Writes on this node (`update`, `delete`): check the input, stamp LWW times with the hybrid clock,
 * apply the change (the merger announces it), queue its delta for publishing, then wait for what
 * the caller asked: the snapshot's LevelDB (durable) and a quorum's acknowledgements (`writeTo`).
 */
import type { HybridClock } from "../cluster/hlc.js";
import { callWithLwwClock, maxLwwTimestamp } from "../crdt/lww-time.js";
import { emptyOf } from "../crdt/registry.js";
import type { Crdt, DataKind } from "../crdt/types.js";
import { InvalidArgumentError, KeyDeletedError } from "../errors.js";
import type { CrdtDelta, Tombstone } from "../wire/codec.js";
import type { WriteOptions } from "./api.js";
import type { Coordinator } from "./coordination.js";
import type { Key } from "./keys.js";
import type { Merger } from "./merge.js";
import type { Outbox } from "./outbox.js";
import { typedValue } from "./reads.js";
import type { Store } from "./store.js";

export interface WriterDeps {
  nodeId: string;
  /** The id this node writes under in a key holding `value` (it changes: own-writer.ts). */
  writerIn: (kind: DataKind, value: Crdt) => string;
  store: Store;
  merger: Merger;
  outbox: Outbox;
  coordinator: Coordinator;
  clock: HybridClock;
  maxClockSkewMs: number;
  coordinationTimeoutMs: number;
  /** Whether the write waits for LevelDB (throws on a bad `durable` option). */
  durable(options: WriteOptions): boolean;
  /** Resolves once `key`'s current value is in LevelDB. */
  persist(key: string): Promise<void>;
}

export class Writer {
  /** The hybrid clock as the source of default LWW timestamps (made once: update is a hot path). */
  private readonly lwwNow: () => number;

  constructor(private readonly deps: WriterDeps) {
    this.lwwNow = () => deps.clock.now();
  }

  /**
   * Not async: a local write (most are) resolves with the one promise it returns, and no async
   * frame, closure or second promise per write (an update is the hot path). A throw is a rejection.
   */
  update<T extends Crdt<T>>(key: Key<T>, modify: (current: T, self: string) => T, options: WriteOptions): Promise<T> {
    try {
      return this.apply(key, modify, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async delete<T extends Crdt<T>>(key: Key<T>, options: WriteOptions): Promise<void> {
    const d = this.deps;
    const durable = d.durable(options);
    typedValue(d.store, key);
    const t: Tombstone = { key: key.id, kind: key.kind, deletedAtMs: d.clock.now(), originNode: d.nodeId };
    if (d.merger.tombstone(t, "local")) d.outbox.addTombstone(t);
    const persisted = durable ? d.persist(key.id) : undefined;
    const coordinated = isLocal(options) ? undefined : this.coordinate({ deltas: [], tombstones: [d.store.tombstone(key.id)!] }, options);
    await Promise.all([persisted, coordinated]);
  }

  private apply<T extends Crdt<T>>(key: Key<T>, modify: (current: T, self: string) => T, options: WriteOptions): Promise<T> {
    const d = this.deps;
    if (typeof modify !== "function") throw new InvalidArgumentError("update needs a modify function (current, self) => next");
    if (d.store.tombstone(key.id) !== undefined) {
      throw new KeyDeletedError(`key "${key.id}" was deleted; it cannot be updated until its tombstone expires`);
    }
    const durable = d.durable(options);
    const current = typedValue(d.store, key);
    const base = current ?? (emptyOf(key.kind, key.valueKind) as T);
    // LWW writes that name no timestamp take the hybrid clock's.
    const next = callWithLwwClock(this.lwwNow, modify, base, d.writerIn(key.kind, base));
    checkDerived(next, base, key.kind);
    const delta = next.delta;
    if (delta === undefined) {
      // Nothing changed; what it returns may be an earlier, not yet durable write.
      return durable ? d.persist(key.id).then(() => next) : Promise.resolve(next);
    }
    const timestamp = maxLwwTimestamp(delta);
    if (!d.clock.observe(timestamp)) {
      throw new InvalidArgumentError(
        `timestamp ${timestamp} is more than maxClockSkewMs (${d.maxClockSkewMs} ms) ahead of this node's clock; ` +
          "peers would refuse the write: pass a timestamp near the current time in ms, or none",
      );
    }
    const stored = next.resetDelta();
    d.merger.write(key.id, key.kind, stored, delta);
    d.outbox.add(key.id, delta);
    // Most writes are local and write-behind: they wait for nothing.
    const persisted = durable ? d.persist(key.id) : undefined;
    const coordinated = isLocal(options) ? undefined : this.coordinate({ deltas: [{ key: key.id, kind: key.kind, originNode: d.nodeId, value: delta }], tombstones: [] }, options);
    if (persisted === undefined && coordinated === undefined) return Promise.resolve(stored);
    return Promise.all([persisted, coordinated]).then(() => stored);
  }

  /** Wait for as many members as `writeTo` asks to acknowledge `change`. */
  private coordinate(change: { deltas: CrdtDelta[]; tombstones: Tombstone[] }, options: WriteOptions): Promise<void> {
    const d = this.deps;
    return d.coordinator.write({ type: "write", from: d.nodeId, ...change }, options.writeTo!, options.timeoutMs ?? d.coordinationTimeoutMs);
  }
}

/** A write that waits for no other member (`writeTo` "local", the default). */
function isLocal(options: WriteOptions): boolean {
  return (options.writeTo ?? "local") === "local";
}

/**
 * What `modify` returned must be `base` or made from it by its own operations (O(1), see
 * Crdt.derivesFrom): storing anything else would replace the current value — a stale copy undoes
 * concurrent changes, another key's value makes this key jump — while only its delta reaches peers.
 */
function checkDerived<T extends Crdt<T>>(next: T, base: T, kind: string): void {
  if (next === base) return;
  if (typeof (next as { then?: unknown } | undefined)?.then === "function") {
    // Its outcome is nobody's to see any more: handled here, it cannot become an unhandled rejection.
    (next as unknown as PromiseLike<unknown>).then(undefined, () => {});
    throw new InvalidArgumentError("modify must be synchronous: return current.<op>(...) (no async function, no promise)");
  }
  if (next === undefined || next === null || (next as Crdt).kind !== kind) {
    throw new InvalidArgumentError(`modify must return a ${kind} value (got ${describeValue(next)})`);
  }
  if (Object.getPrototypeOf(next) !== Object.getPrototypeOf(base) || !next.derivesFrom(base)) {
    throw new InvalidArgumentError(
      `modify returned a ${kind} value not made from the one passed to it (a stale copy, another key's value, ` +
        "a merged or reset value), which would overwrite concurrent changes: return current.<op>(...) derived " +
        "from the value passed to modify (or that value itself for no change)",
    );
  }
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  const kind = (v as { kind?: unknown }).kind;
  return typeof kind === "string" ? kind : typeof v;
}
