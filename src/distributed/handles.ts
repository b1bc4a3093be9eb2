/**
 * Casty-style handles over the replicator's CRDTs: a counter (PNCounter), a map (LWWMap: a map of
 * last-writer-wins registers) and a set (ORSet), each named by its key id, so `d.counter("hits")`
 * and `Key.pncounter("hits")` are the same data.
 *
 * Eventually consistent, unlike the JetStream-backed primitives: every node reads and writes its
 * own replica at once, even cut off from the others, and the replicas converge once deltas flow.
 * So `map.delete` and `set.add`/`remove` answer for this replica's view (another node may have
 * added the same element at the same time), and a counter read is this replica's sum so far.
 */
import type { Crdt, DataKind, Element } from "../crdt/types.js";
import type { LWWMap } from "../crdt/lww-map.js";
import type { ORSet } from "../crdt/orset.js";
import type { PNCounter } from "../crdt/pncounter.js";

/** A typed key as the replicator takes it (`Key` in the package root); `T` ties it to its value type. */
export interface CrdtKey<T extends Crdt<T>> {
  readonly id: string;
  readonly kind: DataKind;
  /** Never set: marks the value type for the compiler. */
  readonly __value?: T;
}

/** What the handles need of the replicator: its typed local update, read and change subscription. */
export interface CrdtAccess {
  update<T extends Crdt<T>>(key: CrdtKey<T>, modify: (current: T, self: string) => T): Promise<T>;
  get<T extends Crdt<T>>(key: CrdtKey<T>): T | undefined;
  subscribe<T extends Crdt<T>>(key: CrdtKey<T>, subscriber: (value: T | undefined) => void): () => void;
}

/** The key constructors the handles use (the replicator passes `Key`). */
export interface CrdtKeys {
  pncounter(id: string): CrdtKey<PNCounter>;
  lwwMap<V extends Element = Element>(id: string): CrdtKey<LWWMap<V>>;
  orset<E extends Element = Element>(id: string): CrdtKey<ORSet<E>>;
}

/** A counter that goes up and down (a PNCounter). */
export class CounterHandle {
  /** @internal use `replicator.distributed().counter(name)`. */
  constructor(
    private readonly crdts: CrdtAccess,
    private readonly key: CrdtKey<PNCounter>,
  ) {}

  /** Add `by` (default 1, a non-negative safe integer); resolves with this replica's new value. */
  async increment(by = 1): Promise<number> {
    return (await this.crdts.update(this.key, (c, self) => c.increment(self, by))).value;
  }

  /** Subtract `by` (default 1); resolves with this replica's new value. */
  async decrement(by = 1): Promise<number> {
    return (await this.crdts.update(this.key, (c, self) => c.decrement(self, by))).value;
  }

  /** This replica's value (0 before any write). */
  get(): number {
    return this.crdts.get(this.key)?.value ?? 0;
  }

  /** Call `listener` with the new value after each change; returns the function that stops it. */
  subscribe(listener: (value: number) => void): () => void {
    return this.crdts.subscribe(this.key, (c) => listener(c?.value ?? 0));
  }
}

/** A map from string keys to values, last writer wins per key (an LWWMap). */
export class MapHandle<V extends Element = Element> {
  /** @internal use `replicator.distributed().map(name)`. */
  constructor(
    private readonly crdts: CrdtAccess,
    private readonly key: CrdtKey<LWWMap<V>>,
  ) {}

  async put(key: string, value: V): Promise<void> {
    await this.crdts.update(this.key, (m, self) => m.put(self, key, value));
  }

  get(key: string): V | undefined {
    return this.crdts.get(this.key)?.get(key);
  }

  has(key: string): boolean {
    return this.crdts.get(this.key)?.has(key) ?? false;
  }

  /** Remove `key`; resolves with whether this replica held it. */
  async delete(key: string): Promise<boolean> {
    let existed = false;
    await this.crdts.update(this.key, (m, self) => {
      existed = m.has(key);
      return existed ? m.remove(self, key) : m;
    });
    return existed;
  }

  size(): number {
    return this.crdts.get(this.key)?.size ?? 0;
  }

  /** [key, value] pairs, sorted by key. */
  entries(): readonly (readonly [string, V])[] {
    return (this.crdts.get(this.key)?.entries ?? []) as readonly (readonly [string, V])[];
  }

  /** Call `listener` with the new entries after each change; returns the function that stops it. */
  subscribe(listener: (entries: readonly (readonly [string, V])[]) => void): () => void {
    return this.crdts.subscribe(this.key, (m) => listener((m?.entries ?? []) as readonly (readonly [string, V])[]));
  }
}

/** A set with add and remove, a concurrent add winning over a remove (an ORSet). */
export class SetHandle<T extends Element = Element> {
  /** @internal use `replicator.distributed().set(name)`. */
  constructor(
    private readonly crdts: CrdtAccess,
    private readonly key: CrdtKey<ORSet<T>>,
  ) {}

  /** Add `element`; resolves with whether it was new in this replica. */
  async add(element: T): Promise<boolean> {
    let added = false;
    await this.crdts.update(this.key, (s, self) => {
      added = !s.has(element);
      return s.add(self, element);
    });
    return added;
  }

  /** Remove `element`; resolves with whether this replica held it. */
  async remove(element: T): Promise<boolean> {
    let held = false;
    await this.crdts.update(this.key, (s) => {
      held = s.has(element);
      return held ? s.remove(element) : s;
    });
    return held;
  }

  has(element: T): boolean {
    return this.crdts.get(this.key)?.has(element) ?? false;
  }

  size(): number {
    return this.crdts.get(this.key)?.size ?? 0;
  }

  /** The elements, sorted by their canonical encoding. */
  values(): readonly T[] {
    return this.crdts.get(this.key)?.elements ?? [];
  }

  /** Call `listener` with the new elements after each change; returns the function that stops it. */
  subscribe(listener: (elements: readonly T[]) => void): () => void {
    return this.crdts.subscribe(this.key, (s) => listener(s?.elements ?? []));
  }
}
