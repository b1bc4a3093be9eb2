/**
 * The change feed behind `GET /v1/watch` (Server-Sent Events) and the dashboard.
 *
 * The replicator's change stream says which keys changed (local writes and merges alike, never
 * idempotent merges), where the change came from and, for writes that came by the delta stream,
 * which node wrote them. Changes are coalesced per key for one macrotask, so a hot key costs one event per turn and its JSON view
 * is built once for every watcher. A watcher that cannot keep up keeps only the latest change of
 * each key until its socket drains: memory stays bounded by the number of keys.
 */
import type { ServerResponse } from "node:http";
import type { Change as StoreChange, ChangeOrigin, Crdt, Replicator } from "../index.js";
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

type Listener = (change: Change) => void;

export class ChangeFeed {
  private readonly listeners = new Set<Listener>();
  /** The latest change of each key since the last flush. */
  private readonly pending = new Map<string, StoreChange>();
  private readonly offs: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly r: Replicator) {
    this.offs.push(r.onChange((c) => this.changed(c)));
  }

  /** Listen to coalesced changes. */
  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The current value of every key, as changes (a watcher's initial state). */
  snapshot(prefix: string): Change[] {
    const at = Date.now();
    return this.r
      .entries()
      .filter((e) => e.key.startsWith(prefix))
      .map((e) => ({ ...describe(e.key, e.value), origin: "sync" as const, at }));
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
    this.listeners.clear();
  }

  private changed(c: StoreChange): void {
    this.pending.set(c.key, c);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const at = Date.now();
    for (const [key, c] of this.pending) {
      const change: Change = {
        ...(c.value === undefined ? { key, deleted: true as const } : describe(key, c.value)),
        ...(c.node === undefined ? {} : { node: c.node }),
        origin: c.origin,
        at,
      };
      for (const l of this.listeners) l(change);
    }
    this.pending.clear();
  }
}

function describe(key: string, value: Crdt): Omit<Change, "origin" | "at"> {
  const vk = valueKindOf(value);
  const v = view(value);
  return { key, type: typeName(value.kind), ...(vk ? { valueType: typeName(vk) } : {}), value: v.value, ...(v.detail ? { detail: v.detail } : {}) };
}

// ------------------------------------------------------------------ one SSE connection

const PING_MS = 15_000;

/** Stream `feed` to `res` as Server-Sent Events until the client goes away or `stop` is called. */
export function streamChanges(res: ServerResponse, feed: ChangeFeed, prefix: string, initial: boolean): () => void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  let blocked = false;
  const backlog = new Map<string, [string, Change]>(); // latest per key while the socket is full
  const send = (event: string, c: Change): void => {
    if (blocked) {
      backlog.set(c.key, [event, c]);
      return;
    }
    blocked = !res.write(`event: ${event}\ndata: ${JSON.stringify(c)}\n\n`);
  };
  res.on("drain", () => {
    blocked = false;
    const queued = [...backlog.values()];
    backlog.clear();
    for (const [event, c] of queued) send(event, c);
  });
  res.write(`retry: 2000\n\n`);
  // Initial state first ("snapshot" events), then "change" and "delete" events as they happen.
  if (initial) for (const c of feed.snapshot(prefix)) send("snapshot", c);
  const off = feed.listen((c) => {
    if (c.key.startsWith(prefix)) send(c.deleted ? "delete" : "change", c);
  });
  const ping = setInterval(() => {
    if (!blocked) res.write(`: ping\n\n`);
  }, PING_MS);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    off();
    clearInterval(ping);
    if (!res.writableEnded) res.end();
  };
  res.on("close", stop);
  return stop;
}
