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
 * EventSource reconnects and resumes (below).
 *
 * Resuming: every event carries an SSE `id:`, `<run>-<sequence>`: the run names this feed (a
 * daemon's run), the sequence counts the events it flushed. The last `backlog` events are kept
 * (watch-backlog.ts, also bounded in bytes); a
 * watcher that comes back with `Last-Event-ID` gets the events after it from there. When the id is
 * another run's, or older than the backlog, it gets a `reset` event and a snapshot of the current
 * state instead (which replaces what it held: keys deleted meanwhile are not in it).
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Change as StoreChange, ChangeOrigin, Crdt, Replicator } from "crdt-replicator";
import { typeName, valueKindOf, view, type Json } from "./codec-json.js";
import type { WatchResetBody } from "./schemas.js";
import { DEFAULT_WATCH_BACKLOG, EventBacklog, resumePoint } from "./watch-backlog.js";

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
  /** For origin remote-dc: the data center it came from, when known. */
  dataCenter?: string;
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
  /** Events kept for resumes. */
  backlog: number;
  /** Resumes served from the backlog. */
  resumed: number;
  /** Resumes answered with a reset and a snapshot. */
  resets: number;
}

/** Where a watcher starts: from now, with the current state first, or after an event it received. */
export type WatchStart = { initial: boolean; lastEventId?: string };

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
  private resumed = 0;
  private resets = 0;
  /** This feed's run: events of another run (a restart) are foreign. */
  readonly run = randomBytes(6).toString("base64url").replaceAll("-", "_");
  /** The sequence of the last event flushed. */
  private seq = 0;
  /** The last events, for resumes. */
  private readonly kept: EventBacklog;
  /** Events are encoded and kept from the first watcher on (until then nobody can resume). */
  private keeping = false;

  constructor(
    private readonly r: Replicator,
    private readonly maxWatchers: number,
    backlog = DEFAULT_WATCH_BACKLOG,
  ) {
    this.kept = new EventBacklog(backlog);
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
    const { resumed, resets } = this;
    return { open: this.watchers.size, max: this.maxWatchers, refused: this.refused, dropped: this.dropped, backlog: this.kept.size, resumed, resets };
  }

  /** Stream changes of keys starting with `prefix` to `res` until the client goes away or `stop` is called. */
  watch(res: ServerResponse, prefix: string, start: WatchStart): () => void {
    this.keeping = true;
    res.writeHead(200, SSE_HEADERS);
    res.write(RETRY);
    // Where it starts (the missed events, or a reset and the state, or the initial state as
    // "snapshot" events), then "change" and "delete" events as they happen.
    const opening = start.lastEventId === undefined ? (start.initial ? this.snapshot(prefix) : "") : this.resume(start.lastEventId, prefix);
    if (opening !== "") res.write(Buffer.from(opening));
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

  /** The current value of every key under `prefix`, as "snapshot" frames (the id of the last event flushed: resuming from it misses nothing). */
  private snapshot(prefix: string): string {
    const at = Date.now();
    const id = this.id(this.seq);
    let out = "";
    for (const e of this.r.entries()) {
      if (e.key.startsWith(prefix)) out += frame(id, "snapshot", { ...describe(e.key, e.value), origin: "sync", at });
    }
    return out;
  }

  /** What a watcher coming back after `lastEventId` is sent first: the kept events after it, or a reset and a snapshot. */
  private resume(lastEventId: string, prefix: string): string {
    const point = resumePoint(lastEventId, this.run, this.seq, this.kept.oldest());
    if ("reset" in point) {
      this.resets++;
      const reset: WatchResetBody = { reason: point.reset, lastEventId, at: Date.now() };
      return `id: ${this.id(this.seq)}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n${this.snapshot(prefix)}`;
    }
    this.resumed++;
    return this.kept.after(point.after, prefix);
  }

  private id(seq: number): string {
    return `${this.run}-${seq}`;
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
    if (!this.keeping) {
      this.pending.clear();
      return;
    }
    // Encoded and kept even when no watcher is connected: one may come back with Last-Event-ID.
    const at = Date.now();
    const frames: [key: string, frame: string][] = [];
    for (const [key, c] of this.pending) {
      const change: Change = {
        ...(c.value === undefined ? { key, deleted: true as const } : describe(key, c.value)),
        ...(c.node === undefined ? {} : { node: c.node }),
        ...(c.dataCenter === undefined ? {} : { dataCenter: c.dataCenter }),
        origin: c.origin,
        at,
      };
      const seq = ++this.seq;
      const f = frame(this.id(seq), c.value === undefined ? "delete" : "change", change);
      this.kept.add(seq, key, f);
      frames.push([key, f]);
    }
    this.pending.clear();
    if (this.watchers.size === 0) return;
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

function frame(id: string, event: string, c: Change): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(c)}\n\n`;
}

function describe(key: string, value: Crdt): Omit<Change, "origin" | "at"> {
  const vk = valueKindOf(value);
  const v = view(value);
  return { key, type: typeName(value.kind), ...(vk ? { valueType: typeName(vk) } : {}), value: v.value, ...(v.detail ? { detail: v.detail } : {}) };
}
