/**
 * Worker side: the replicator node (or raw NATS client) a bench worker process holds, and the
 * commands every scenario shares (start/stop, wait for members or keys, heap, bytes, mute, sync).
 *
 * Bytes: `wireBytes()` reads the TCP socket's counters under the NATS client, i.e. exactly what the
 * client writes and reads (protocol lines, payloads, pings, heartbeats); the client's own
 * `stats().outBytes` counts payloads only and is reported next to it.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { GCounter, Key, Replicator, type Crdt, type ReplicatorOptions } from "../../src/index.js";
import { connectNats } from "../../src/transport/nats.js";
import { TransportDecorator } from "../../src/transport/decorator.js";
import type { MessageHandler, SubscribeOptions, Transport } from "../../src/transport/types.js";

/** The machine's monotonic clock in ns, as a number (exact: < 2^53 ns is 104 days of uptime). */
export const nowNs = (): number => Number(process.hrtime.bigint());
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Yield one event-loop turn (lets the outbox flush and the socket write). */
export const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Sleep until the shared monotonic clock reads `atNs` (coarse sleep, then spin the last 2 ms). */
export async function until(atNs: number): Promise<void> {
  const coarse = (atNs - nowNs()) / 1e6 - 2;
  if (coarse > 0) await sleep(coarse);
  while (nowNs() < atNs) {
    // spin
  }
}

/**
 * Call `emit(seq)` for seq = 1..count at `rate` per second on the shared clock. Timers have a
 * ~1 ms granularity: when a tick comes late, the updates that came due are emitted together
 * (as a busy application would), never dropped.
 */
export async function paced(rate: number, count: number, emit: (seq: number) => void): Promise<void> {
  const period = 1e9 / rate;
  const start = nowNs();
  let seq = 0;
  while (seq < count) {
    const due = Math.min(count, Math.floor((nowNs() - start) / period) + 1);
    while (seq < due) emit(++seq);
    if (seq < count) await sleep(Math.max(0, (start + seq * period - nowNs()) / 1e6));
  }
}

export const INCREMENT = (c: GCounter, self: string): GCounter => c.increment(self, 1);

/**
 * A transport around the NATS one that can drop incoming deltas and heartbeats for a while (to
 * make replicas differ without a gap the receiver could detect: heartbeats carry the sender's last
 * sequence) and counts heartbeat bytes (to take them out of byte counts).
 */
export class BenchTransport extends TransportDecorator {
  muted = false;
  /** Heartbeats published: NATS framing + payload, and payload alone. */
  heartbeatWireBytes = 0;
  heartbeatPayloadBytes = 0;
  constructor(
    inner: Transport,
    private readonly deltaSubject: string,
  ) {
    super(inner);
  }
  override publish(subject: string, data: Uint8Array): void {
    if (subject.endsWith(".members")) {
      this.heartbeatWireBytes += pubFrame(subject, data.length);
      this.heartbeatPayloadBytes += data.length;
    }
    this.inner.publish(subject, data);
  }
  override subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): () => void {
    if (subject === `${this.deltaSubject}.members`) {
      // Muted too: a heartbeat carries the sender's last sequence, which would reveal the gap.
      return this.inner.subscribe(subject, (m) => void (this.muted || handler(m)), options);
    }
    if (subject !== this.deltaSubject) return this.inner.subscribe(subject, handler, options);
    return this.inner.subscribe(subject, (m) => void (this.muted || handler(m)), options);
  }
}

/** Bytes of `PUB <subject> <len>\r\n<payload>\r\n`. */
export function pubFrame(subject: string, len: number): number {
  return 4 + subject.length + 1 + String(len).length + 2 + len + 2;
}

export interface WireBytes {
  /** Bytes written to / read from the TCP socket by the NATS client. */
  written: number;
  read: number;
  /** The client's own counters (payload bytes only). */
  outPayload: number;
  inPayload: number;
}

export function wireBytes(nc: NatsConnection): WireBytes {
  const socket = (nc as unknown as { protocol?: { transport?: { socket?: { bytesWritten?: number; bytesRead?: number } } } }).protocol
    ?.transport?.socket;
  const s = nc.stats();
  return {
    written: socket?.bytesWritten ?? s.outBytes,
    read: socket?.bytesRead ?? s.inBytes,
    outPayload: s.outBytes,
    inPayload: s.inBytes,
  };
}

// ------------------------------------------------------------------ the node this process holds

export interface HeldNode {
  nc: NatsConnection;
  tx: BenchTransport;
  r: Replicator;
}

let held: HeldNode | undefined;
let rawNc: NatsConnection | undefined;

export function node(): HeldNode {
  if (held === undefined) throw new Error("no replicator started in this worker");
  return held;
}

export function raw(): NatsConnection {
  if (rawNc === undefined) throw new Error("no raw NATS connection in this worker");
  return rawNc;
}

export interface StartArgs {
  url: string;
  nodeId: string;
  options?: Partial<ReplicatorOptions>;
}

export async function startNode(a: StartArgs): Promise<{ startNs: number; readyNs: number }> {
  if (held !== undefined) throw new Error("a replicator is already running in this worker");
  const startNs = nowNs();
  // As the replicator connects by itself (src/transport/nats.ts): no echo of its own messages.
  const nc = await connect({ servers: a.url, name: a.nodeId, noEcho: true });
  const subject = a.options?.subject ?? "crdt.deltas";
  const tx = new BenchTransport(await connectNats({ connection: nc }), subject);
  const r = await Replicator.start({ nodeId: a.nodeId, transport: tx, ...a.options });
  held = { nc, tx, r };
  return { startNs, readyNs: nowNs() };
}

export async function stopNode(): Promise<void> {
  const h = held;
  held = undefined;
  if (h === undefined) return;
  await h.r.close();
  await h.tx.close();
  await h.nc.close();
}

/** Arrival times by sequence number (`arr[seq]`, shared clock), filled in by a subscriber. */
export interface Arrivals {
  arr: Float64Array;
  seen: number;
  stop: () => void;
}

/** Wait (bounded) until `count` arrivals were seen, stop watching, return the arrival times. */
export async function collectArrivals(w: Arrivals, count: number, timeoutMs: number): Promise<Float64Array> {
  const deadline = Date.now() + timeoutMs;
  while (w.seen < count && Date.now() < deadline) await sleep(5);
  w.stop();
  return w.arr;
}

/** Resolves with the shared clock's time at which this node first sees `key`'s value ≥ `target`. */
export function whenValueReaches<T extends Crdt<T> & { readonly value: number }>(key: Key<T>, target: number): Promise<number> {
  const { r } = node();
  return new Promise<number>((resolve) => {
    const off = r.subscribe(key, (v) => {
      if (v !== undefined && v.value >= target) {
        resolve(nowNs());
        off();
      }
    });
  });
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string, pollMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Commands shared by all scenarios. */
export const nodeHandlers = {
  "node.start": (a: StartArgs) => startNode(a),
  "node.stop": () => stopNode(),
  "raw.connect": async (a: { url: string; name?: string }) => {
    rawNc ??= await connect({ servers: a.url, name: a.name ?? "raw" });
  },
  "raw.close": async () => {
    const nc = rawNc;
    rawNc = undefined;
    await nc?.close();
  },
  /** Wait until this node sees `count` reachable members (itself included). */
  "node.waitMembers": async (a: { count: number; timeoutMs?: number }) => {
    const { r } = node();
    await waitUntil(() => r.members().filter((m) => m.reachable).length >= a.count, a.timeoutMs ?? 20_000, `${a.count} members`, 20);
  },
  "node.size": () => node().r.size,
  /** This process's CPU time so far (user + system), ms. */
  "node.cpu": () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
  /** Wait until the store holds `count` keys; returns the ns timestamp when it did. */
  "node.waitSize": async (a: { count: number; timeoutMs?: number }) => {
    const { r } = node();
    await waitUntil(() => r.size >= a.count, a.timeoutMs ?? 120_000, `${a.count} keys (have ${r.size})`);
    return nowNs();
  },
  /** Heap in use after full garbage collection, plus array buffers (typed arrays' contents live outside the heap). */
  "node.heap": async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < 3; i++) {
      gc?.();
      await nextTurn();
    }
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  },
  "node.bytes": () => ({ ...wireBytes(node().nc), heartbeat: node().tx.heartbeatWireBytes, stats: statsOf(node().r) }),
  "raw.bytes": () => wireBytes(raw()),
  "node.mute": (a: { muted: boolean }) => {
    node().tx.muted = a.muted;
  },
  /** One anti-entropy round with `peer`; returns its duration in ms. */
  "node.sync": async (a: { peer: string }) => {
    const t0 = nowNs();
    await node().r.sync(a.peer);
    return (nowNs() - t0) / 1e6;
  },
  /**
   * Write `count` GCounter keys `${prefix}${from + i}` (one increment each), `batch` updates per
   * event-loop turn; resolves once everything is handed to NATS.
   */
  "node.load": async (a: { prefix: string; from?: number; count: number; batch?: number }) => {
    const { r, tx } = node();
    const batch = a.batch ?? 1000;
    const from = a.from ?? 0;
    const t0 = nowNs();
    for (let i = 0; i < a.count; i++) {
      void r.update(Key.gcounter(`${a.prefix}${from + i}`), INCREMENT);
      if (i % batch === batch - 1) await nextTurn();
    }
    await nextTurn();
    await tx.flush();
    return { ms: (nowNs() - t0) / 1e6 };
  },
  /** Values of some GCounter keys (to check that replicas agree). */
  "node.values": (a: { keys: string[] }) => a.keys.map((k) => node().r.get(Key.gcounter(k))?.value ?? null),
  "node.stats": () => statsOf(node().r),
  "node.flush": () => node().tx.flush(),
};

function statsOf(r: Replicator): Record<string, number> {
  const s = r.stats;
  return {
    bytesPublished: s.bytesPublished,
    envelopePublishCount: s.envelopePublishCount,
    deltaPublishCount: s.deltaPublishCount,
    deltaReceiveCount: s.deltaReceiveCount,
    mergeCount: s.mergeCount,
    antiEntropyCount: s.antiEntropyCount,
    rejectedTotal: s.rejectedTotal,
  };
}
