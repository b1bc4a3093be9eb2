/**
 * The keys the digest has to rehash (changed since it last hashed them), built for millions: a key
 * holding a value is marked in the store's own table (`Store.mark`: right after the change that
 * made it dirty the table finds it without hashing, and there is no set entry to add, grow or
 * delete) and queued once per marking; any other key (a tombstone, or a key just removed) goes
 * into a plain set, as those are few. The store's marks belong to this one bookkeeper.
 */
import type { Store } from "./store.js";

/** Stale queue entries tolerated beyond the marked keys before the queue is rebuilt. */
const SLACK = 1024;

export class DirtyKeys {
  /** Every marked key at least once from `head` on, and keys no longer marked (skipped). */
  private queue: string[] = [];
  private head = 0;
  private readonly others = new Set<string>();

  constructor(private readonly store: Pick<Store, "mark" | "unmark" | "marked" | "marks">) {}

  get size(): number {
    return this.store.marks + this.others.size;
  }

  add(key: string): void {
    const marked = this.store.mark(key);
    if (marked === undefined) {
      this.others.add(key);
      return;
    }
    if (this.others.size !== 0) this.others.delete(key); // a tombstone's key holding a value again
    if (marked) {
      this.queue.push(key);
      // A key unmarked by `delete` and marked again is queued twice: rebuild before that piles up.
      if (this.queue.length - this.head > 2 * this.store.marks + SLACK) this.rebuild();
    }
  }

  // Both ask the table only while something is marked: a bulk pull or a page answer asks per key, mostly with nothing dirty.
  has(key: string): boolean {
    return (this.store.marks !== 0 && this.store.marked(key)) || (this.others.size !== 0 && this.others.has(key));
  }

  delete(key: string): void {
    if (this.store.marks !== 0) this.store.unmark(key);
    if (this.others.size !== 0) this.others.delete(key);
  }

  /** A dirty key, no longer dirty from now on (the caller rehashes it); undefined when none is left. */
  take(): string | undefined {
    if (this.others.size !== 0) {
      const key = this.others.values().next().value!;
      this.others.delete(key);
      return key;
    }
    while (this.head < this.queue.length) {
      const key = this.queue[this.head++]!;
      if (this.store.unmark(key)) {
        if (this.head > SLACK && 2 * this.head > this.queue.length) {
          this.queue = this.queue.slice(this.head); // let the taken half go
          this.head = 0;
        }
        return key;
      }
    }
    this.queue = [];
    this.head = 0;
    return undefined;
  }

  /** The queue from `head` on, each marked key once. */
  private rebuild(): void {
    const seen = new Set<string>();
    const queue: string[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const key = this.queue[i]!;
      if (!seen.has(key) && this.store.marked(key)) {
        seen.add(key);
        queue.push(key);
      }
    }
    this.queue = queue;
    this.head = 0;
  }
}
