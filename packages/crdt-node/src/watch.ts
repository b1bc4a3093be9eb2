/**
 * The change feed behind `GET /v1/watch` (Server-Sent Events) and the dashboard.
 *
 * The replicator's change stream says which keys changed (local writes and merges alike, never
 * idempotent merges), where the change came from and, for writes that came by the delta stream,
 * which node wrote them. Changes are coalesced per key until the next flush: at the end of the
 * current macrotask when the feed was quiet, at most every FLUSH_MS while changes keep coming. Each
 * flush encodes every change once, joins the frames a prefix selects into one buffer, and writes
 * that same buffer to every watcher of that prefix: a thousand watchers cost a thousand socket
 * writes per flush, not a thousand encodings and writes per change. Those writes go out
 * FANOUT_SLICE at a time, one slice per macrotask, so requests (a /healthz probe) are served between
 * slices rather than after the whole fan-out.
 *
 * A watcher that cannot keep up is closed (and counted) once more than WATCHER_BACKLOG_BYTES wait
 * in its socket: memory stays bounded, and a slow reader never makes the event loop wait. Its
 * EventSource reconnects; `?initial=1` gives it the current state again.
 */
import type { ServerResponse } from "node:http";
import type { Change as StoreChange, ChangeOrigin, Crdt, Replicator } from "crdt-replicator";
import { typeName, valueKindOf, view, type Json } from "./codec-json.js";

export interface Change {
  key: string;
  /** Absent for a delete. */
  type?: string;
  valueType?: string;
  value?: Json;
  detail?: Json;
  deleted?: true;
  /** The node the change was written on, when known. */
  node?: string;
  /**
   * local: written on this node; dc: a delta from a peer of this DC; remote-dc: data from another
   * DC (a cross-DC batch or round); sync: merged outside the delta stream (anti-entropy, a
   * coordinated operation), where the writer is not known.
   */
  origin: ChangeOrigin;
  /** ms since the epoch, when this node applied it. */
  at: number;
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  "x-accel-buffering": "no",
} as const;

/** Bytes a watcher may have waiting in its socket (beyond its initial snapshot) before it is closed. */
export const WATCHER_BACKLOG_BYTES = 1024 * 1024;
/** Shortest time between two flushes: bounds the socket writes per second under a stream of writes. */
const FLUSH_MS = 100;
/** Watchers written to in one macrotask. */
const FANOUT_SLICE = 64;
const PING_MS = 15_000;
const PING = Buffer.from(": ping\n\n");
const RETRY = Buffer.from("retry: 2000\n\n");

interface Watcher {
  res: ServerResponse;
  prefix: string;
  /** What may wait in the socket before the watcher counts as too slow. */
  limit: number;
}

export interface WatcherStats {
  open: number;
  max: number;
  /** Refused with 503: the cap was reached. */
  refused: number;
  /** Closed because they did not read fast enough. */
  dropped: number;
}

export class ChangeFeed {
  private readonly watchers = new Set<Watcher>();
  /** The latest change of each key since the last flush. */
  private readonly pending = new Map<string, StoreChange>();
  private readonly off: () => void;
  private readonly ping: NodeJS.Timeout;
  private scheduled = false;
  private lastFlush = 0;
  /** (watcher, batch) writes still to make, in order; `sent` of them are done. */
  private readonly outbox: [Watcher, Buffer][] = [];
  private sent = 0;
  private refused = 0;
  private dropped = 0;

  constructor(
    private readonly r: Replicator,
    private readonly maxWatchers: number,
  ) {
    this.off = r.onChange((c) => this.changed(c));
    this.ping = setInterval(() => this.pingAll(), PING_MS).unref();
  }

  /** Whether another watcher may join; counts a refusal when not. */
  admit(): boolean {
    if (this.watchers.size < this.maxWatchers) return true;
    this.refused++;
    return false;
  }

  stats(): WatcherStats {
    return { open: this.watchers.size, max: this.maxWatchers, refused: this.refused, dropped: this.dropped };
  }

  /** Stream changes of keys starting with `prefix` to `res` until the client goes away or `stop` is called. */
  watch(res: ServerResponse, prefix: string, initial: boolean): () => void {
    res.writeHead(200, SSE_HEADERS);
    res.write(RETRY);
    // Initial state first ("snapshot" events), then "change" and "delete" events as they happen.
    if (initial) res.write(Buffer.from(this.snapshot(prefix)));
    const w: Watcher = { res, prefix, limit: res.writableLength + WATCHER_BACKLOG_BYTES };
    this.watchers.add(w);
    const stop = (): void => {
      this.watchers.delete(w);
      if (!res.writableEnded) res.end();
    };
    res.on("close", stop);
    return stop;
  }

  close(): void {
    this.off();
    clearInterval(this.ping);
    for (const w of [...this.watchers]) w.res.end();
    this.watchers.clear();
  }

  /** The current value of every key under `prefix`, as "snapshot" frames. */
  private snapshot(prefix: string): string {
    const at = Date.now();
    let out = "";
    for (const e of this.r.entries()) {
      if (e.key.startsWith(prefix)) out += frame("snapshot", { ...describe(e.key, e.value), origin: "sync", at });
    }
    return out;
  }

  private changed(c: StoreChange): void {
    this.pending.set(c.key, c);
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastFlush + FLUSH_MS - performance.now();
    if (wait <= 0) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.scheduled = false;
    this.lastFlush = performance.now();
    if (this.watchers.size === 0) {
      this.pending.clear();
      return;
    }
    const at = Date.now();
    const frames: [key: string, frame: string][] = [];
    for (const [key, c] of this.pending) {
      const change: Change = {
        ...(c.value === undefined ? { key, deleted: true as const } : describe(key, c.value)),
        ...(c.node === undefined ? {} : { node: c.node }),
        origin: c.origin,
        at,
      };
      frames.push([key, frame(c.value === undefined ? "delete" : "change", change)]);
    }
    this.pending.clear();
    const batches = new Map<string, Buffer | null>(); // per prefix: the frames it selects, joined once
    for (const w of [...this.watchers]) {
      let batch = batches.get(w.prefix);
      if (batch === undefined) {
        const selected = frames.filter(([key]) => key.startsWith(w.prefix)).map(([, f]) => f);
        batch = selected.length === 0 ? null : Buffer.from(selected.join(""));
        batches.set(w.prefix, batch);
      }
      if (batch !== null) this.outbox.push([w, batch]);
    }
    if (this.sent === 0) this.drain(); // else the running drain reaches these writes after the earlier ones
  }

  private drain(): void {
    const end = Math.min(this.outbox.length, this.sent + FANOUT_SLICE);
    for (; this.sent < end; this.sent++) {
      const [w, batch] = this.outbox[this.sent]!;
      if (this.watchers.has(w)) this.send(w, batch);
    }
    if (this.sent < this.outbox.length) {
      setImmediate(() => this.drain());
      return;
    }
    this.outbox.length = 0;
    this.sent = 0;
  }

  private send(w: Watcher, data: Buffer): void {
    if (w.res.writableLength > w.limit) {
      this.dropped++;
      this.watchers.delete(w);
      w.res.destroy(); // a reader this far behind would only fall further behind
      return;
    }
    w.res.write(data);
  }

  private pingAll(): void {
    for (const w of this.watchers) if (w.res.writableLength === 0) w.res.write(PING);
  }
}

function frame(event: string, c: Change): string {
  return `event: ${event}\ndata: ${JSON.stringify(c)}\n\n`;
}

function describe(key: string, value: Crdt): Omit<Change, "origin" | "at"> {
  const vk = valueKindOf(value);
  const v = view(value);
  return { key, type: typeName(value.kind), ...(vk ? { valueType: typeName(vk) } : {}), value: v.value, ...(v.detail ? { detail: v.detail } : {}) };
}
