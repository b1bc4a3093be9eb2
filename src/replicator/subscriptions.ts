/**
 * Per-key subscribers. A throwing subscriber is reported and never breaks replication or the
 * other subscribers of the key.
 */
import type { Crdt } from "../crdt/types.js";

export type Subscriber = (value: Crdt | undefined) => void;

/** A key's subscribers, and the list a notification calls (made once per change of the set, not per notification). */
interface KeySubscribers {
  readonly set: Set<Subscriber>;
  list: Subscriber[] | undefined;
}

export class Subscriptions {
  private readonly byKey = new Map<string, KeySubscribers>();
  private readonly all = new Set<(key: string, value: Crdt | undefined) => void>();

  constructor(private readonly onError: (error: unknown) => void) {}

  add(key: string, subscriber: Subscriber): () => void {
    let entry = this.byKey.get(key);
    if (entry === undefined) this.byKey.set(key, (entry = { set: new Set(), list: undefined }));
    entry.set.add(subscriber);
    entry.list = undefined;
    const subscribed = entry;
    return () => {
      if (!subscribed.set.delete(subscriber)) return;
      subscribed.list = undefined;
      if (subscribed.set.size === 0 && this.byKey.get(key) === subscribed) this.byKey.delete(key);
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

  /**
   * Tells `key`'s subscribers, as they were when it began (one added meanwhile hears the next
   * change; one removed meanwhile still hears this one), then those of every key.
   */
  notify(key: string, value: Crdt | undefined): void {
    const entry = this.byKey.get(key);
    if (entry !== undefined) {
      const list = (entry.list ??= [...entry.set]);
      for (let i = 0; i < list.length; i++) {
        try {
          list[i]!(value);
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
