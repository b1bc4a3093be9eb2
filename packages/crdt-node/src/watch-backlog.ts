/**
 * The watch stream's backlog (pure): the last events flushed, kept so a watcher that comes back with
 * `Last-Event-ID` gets what it missed, and the decision whether it can. Bounded by a count and by
 * bytes (a key with a large value written often must not hold a large value thousands of times).
 */
import type { WatchResetBody } from "./schemas.js";

/** Events kept for `Last-Event-ID` resumes, by default. */
export const DEFAULT_WATCH_BACKLOG = 10_000;
/** Bytes of encoded events the backlog holds at most (the oldest go first past it). */
export const WATCH_BACKLOG_BYTES = 32 * 1024 * 1024;

interface Kept {
  seq: number;
  key: string;
  frame: string;
}

export class EventBacklog {
  /** Kept events, oldest first from `head` (the part before it is dropped, compacted now and then). */
  private kept: Kept[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxEvents = DEFAULT_WATCH_BACKLOG,
    private readonly maxBytes = WATCH_BACKLOG_BYTES,
  ) {}

  get size(): number {
    return this.kept.length - this.head;
  }

  /** The sequence of the oldest event kept, or undefined when none is. */
  oldest(): number | undefined {
    return this.kept[this.head]?.seq;
  }

  /** Keep event `seq` (sequences are consecutive) of `key`, encoded as `frame`. */
  add(seq: number, key: string, frame: string): void {
    if (this.maxEvents === 0) return;
    this.kept.push({ seq, key, frame });
    this.bytes += frame.length;
    while (this.size > this.maxEvents || (this.bytes > this.maxBytes && this.size > 1)) {
      this.bytes -= this.kept[this.head]!.frame.length;
      this.head++;
    }
    if (this.head > 1024 && this.head > this.kept.length / 2) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
  }

  /** The frames of the kept events after `seq` whose keys start with `prefix`, joined. */
  after(seq: number, prefix: string): string {
    let out = "";
    for (let i = this.head; i < this.kept.length; i++) {
      const e = this.kept[i]!;
      if (e.seq > seq && e.key.startsWith(prefix)) out += e.frame;
    }
    return out;
  }
}

/**
 * Where a watcher coming back with `lastEventId` resumes (ids are `<run>-<seq>`): after that
 * sequence when every later event is still kept; otherwise why it gets a reset and a snapshot.
 */
export function resumePoint(lastEventId: string, run: string, seq: number, oldestKept: number | undefined): { after: number } | { reset: WatchResetBody["reason"] } {
  const dash = lastEventId.lastIndexOf("-");
  const after = Number(lastEventId.slice(dash + 1));
  if (dash < 0 || lastEventId.slice(0, dash) !== run || !/^\d+$/.test(lastEventId.slice(dash + 1)) || after > seq) return { reset: "foreign-id" };
  // Every event after `after` must still be kept (sequences are consecutive).
  if (after < seq && (oldestKept === undefined || after + 1 < oldestKept)) return { reset: "beyond-backlog" };
  return { after };
}
