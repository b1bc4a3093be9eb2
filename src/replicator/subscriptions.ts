/**
 * Per-key subscribers. A throwing subscriber is reported and never breaks replication or the
 * other subscribers of the key.
 */
import type { Crdt } from "../crdt/types.js";

export type Subscriber = (value: Crdt | undefined) => void;

export class Subscriptions {
  private readonly byKey = new Map<string, Set<Subscriber>>();
  private readonly all = new Set<(key: string, value: Crdt | undefined) => void>();

  constructor(private readonly onError: (error: unknown) => void) {}

  add(key: string, subscriber: Subscriber): () => void {
    let set = this.byKey.get(key);
    if (set === undefined) this.byKey.set(key, (set = new Set()));
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
    };
  }

  /** Calls `subscriber` with `value` now (the `initial` delivery), reporting a throw like `notify` does. */
  deliver(subscriber: Subscriber, value: Crdt | undefined): void {
    try {
      subscriber(value);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Subscribe to every key (the daemon's watch stream and dashboard use this). */
  addAll(subscriber: (key: string, value: Crdt | undefined) => void): () => void {
    this.all.add(subscriber);
    return () => this.all.delete(subscriber);
  }

  /** Whether anyone subscribed to anything. */
  get any(): boolean {
    return this.byKey.size > 0 || this.all.size > 0;
  }

  /** Whether anyone would be told about a change of `key` (lets callers skip an equality check). */
  watched(key: string): boolean {
    return this.all.size > 0 || this.byKey.has(key);
  }

  notify(key: string, value: Crdt | undefined): void {
    const set = this.byKey.get(key);
    if (set !== undefined) {
      for (const s of [...set]) {
        try {
          s(value);
        } catch (error) {
          this.onError(error);
        }
      }
    }
    for (const s of this.all) {
      try {
        s(key, value);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
