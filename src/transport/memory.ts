/**
 * In-memory bus for deterministic simulation, with seeded faults: drop, duplicate, reorder,
 * partitions and per-node disconnects.
 *
 * Time is virtual: every delivery gets a virtual due time `now + delay` (delay drawn in
 * [0, reorderWindow]) and deliveries happen in (due time, publish order) order. Wall-clock time only
 * decides *when* the queue is pumped, never *in which order*, so for the same seed and the same
 * sequence of publishes the delivery order is the same. Pumping and request timeouts use the
 * network's clock: the system's by default, or a virtual one that makes the whole run seeded.
 *
 * Differences from NATS, on purpose: subjects match exactly (no wildcards); a disconnected node's
 * publishes are lost rather than buffered (the harsher case); faults apply to every copy
 * independently (one draw per recipient).
 */
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { ConnectionError, InvalidArgumentError, SettleTimeoutError } from "../errors.js";
import {
  RequestFailedError,
  type IncomingMessage,
  type MessageHandler,
  type SubscribeOptions,
  type Transport,
  type TransportStatus,
} from "./types.js";

export interface MemoryFaults {
  /** Probability that one delivery is lost (0..1). */
  dropRate?: number;
  /** Probability that one delivery arrives twice (0..1). */
  duplicateRate?: number;
  /** Each delivery is delayed by a random 0..reorderWindow virtual ticks; 0 keeps publish order. */
  reorderWindow?: number;
}

export interface MemoryNetworkOptions extends MemoryFaults {
  seed?: number;
  /** Largest payload accepted (default 1 MiB, like nats-server). */
  maxPayload?: number;
  /** Deliver on its own after each publish (default). When false, call step()/deliverAll(). */
  autoDeliver?: boolean;
  /** Deliveries per macrotask when auto-delivering; yields between batches so timers still run. */
  batchSize?: number;
  /** Called when a handler throws (default: console.error). */
  onHandlerError?: (error: unknown, subject: string, nodeId: string) => void;
  /**
   * Schedules the pumping and request timeouts (default: the system clock). With a virtual clock,
   * whoever advances it drives delivery; `settle` is for the system clock only.
   */
  clock?: Clock;
}

/** mulberry32: tiny, fast, good enough for fault injection, and deterministic for a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sub {
  readonly transport: MemoryTransport;
  readonly subject: string;
  readonly queue: string | undefined;
  readonly handler: MessageHandler;
  active: boolean;
}

interface PendingRequest {
  readonly nodeId: string;
  settle(data: Uint8Array | RequestFailedError): void;
  /** Send the request again (after a reconnect: the first copy or its reply may be lost). */
  resend(): void;
}

/** One copy on its way to one recipient (a subscription or a request's inbox). */
interface Delivery {
  readonly due: number;
  readonly seq: number;
  readonly from: string;
  readonly to: Sub | { inbox: string; nodeId: string };
  readonly msg: IncomingMessage;
}

/** Log entry, for tests asserting order/determinism. */
export interface DeliveryRecord {
  from: string;
  to: string;
  subject: string;
  data: Uint8Array;
}

export class MemoryNetwork {
  readonly maxPayload: number;
  readonly clock: Clock;
  private readonly random: () => number;
  private faults: Required<MemoryFaults>;
  private readonly autoDeliver: boolean;
  private readonly batchSize: number;
  private readonly onHandlerError: (error: unknown, subject: string, nodeId: string) => void;
  private readonly subs = new Map<string, Sub[]>();
  private readonly requests = new Map<string, PendingRequest>();
  private readonly transports = new Set<MemoryTransport>();
  private readonly down = new Set<string>();
  private readonly cuts = new Set<string>();
  private readonly queue = new Heap<Delivery>((a, b) => a.due - b.due || a.seq - b.seq);
  private readonly idleWaiters: Array<() => void> = [];
  private now = 0;
  private seq = 0;
  private inboxSeq = 0;
  private pumpScheduled = false;
  /** Counters: what the faults did, and handler exceptions caught. */
  readonly stats = { published: 0, delivered: 0, dropped: 0, duplicated: 0, handlerErrors: 0 };
  /** Every delivery made, in order, when `recordDeliveries` is true. */
  recordDeliveries = false;
  readonly deliveries: DeliveryRecord[] = [];

  constructor(options: MemoryNetworkOptions = {}) {
    this.random = mulberry32(options.seed ?? 1);
    this.faults = { dropRate: 0, duplicateRate: 0, reorderWindow: 0 };
    this.setFaults(options);
    this.maxPayload = options.maxPayload ?? 1024 * 1024;
    this.autoDeliver = options.autoDeliver ?? true;
    this.batchSize = options.batchSize ?? 256;
    this.clock = options.clock ?? systemClock;
    this.onHandlerError =
      options.onHandlerError ?? ((e, s, n) => console.error(`memory transport: handler of ${n} for "${s}" threw:`, e));
  }

  /** Change fault rates mid-run (e.g. a lossy phase, then a clean one to check convergence). */
  setFaults(faults: MemoryFaults): void {
    for (const k of ["dropRate", "duplicateRate"] as const) {
      const v = faults[k];
      if (v !== undefined && !(v >= 0 && v <= 1)) throw new InvalidArgumentError(`${k} must be in [0, 1], got ${v}`);
    }
    if (faults.reorderWindow !== undefined && !(faults.reorderWindow >= 0)) {
      throw new InvalidArgumentError(`reorderWindow must be >= 0, got ${faults.reorderWindow}`);
    }
    this.faults = {
      dropRate: faults.dropRate ?? this.faults.dropRate,
      duplicateRate: faults.duplicateRate ?? this.faults.duplicateRate,
      reorderWindow: faults.reorderWindow ?? this.faults.reorderWindow,
    };
  }

  connect(nodeId: string): MemoryTransport {
    const t = new MemoryTransport(this, nodeId);
    this.transports.add(t);
    return t;
  }

  /** Cut every link between a node of `a` and a node of `b` (both directions). Cumulative. */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) if (x !== y) this.cuts.add(pairKey(x, y));
  }

  /** Remove every partition. */
  heal(): void {
    this.cuts.clear();
  }

  canReach(from: string, to: string): boolean {
    return !this.cuts.has(pairKey(from, to)) && !this.down.has(from) && !this.down.has(to);
  }

  /** The node loses its link: it sends and receives nothing until reconnect(); listeners see "disconnect". */
  disconnect(nodeId: string): void {
    if (this.down.has(nodeId)) return;
    this.down.add(nodeId);
    this.notify(nodeId, { type: "disconnect" });
  }

  reconnect(nodeId: string): void {
    if (!this.down.delete(nodeId)) return;
    this.notify(nodeId, { type: "reconnect" });
  }

  isConnected(nodeId: string): boolean {
    return !this.down.has(nodeId);
  }

  /** Deliveries queued and not yet made. */
  get inFlight(): number {
    return this.queue.size;
  }

  /**
   * Run until nothing is in flight: delivers (itself, in manual mode), then gives handlers' pending
   * microtasks and immediates a turn, and checks again. Rejects after `timeoutMs` if traffic never
   * stops (e.g. handlers answering each other forever).
   */
  async settle(options: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      if (this.autoDeliver) {
        await new Promise<void>((resolve) => {
          this.idleWaiters.push(resolve);
          this.schedulePump();
        });
      } else {
        this.step(this.batchSize);
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (this.queue.size === 0) return;
      if (Date.now() > deadline) throw new SettleTimeoutError(`settle: still ${this.queue.size} in flight after ${options.timeoutMs} ms`);
    }
  }

  /** Make up to `max` deliveries now, synchronously, in order. Returns how many were made. */
  step(max = 1): number {
    let n = 0;
    while (n < max) {
      const d = this.queue.pop();
      if (!d) break;
      this.now = Math.max(this.now, d.due);
      this.deliver(d);
      n++;
    }
    if (this.queue.size === 0) this.wakeIdle();
    return n;
  }

  /**
   * Deliver until nothing is in flight, including what handlers publish meanwhile. `limit` guards
   * against handlers that answer every message with another one forever.
   */
  deliverAll(limit = 1_000_000): number {
    const n = this.step(limit);
    if (this.queue.size > 0) throw new SettleTimeoutError(`deliverAll: still ${this.queue.size} in flight after ${limit} deliveries`);
    return n;
  }

  // ---- used by MemoryTransport ----

  /** @internal */
  send(from: MemoryTransport, subject: string, data: Uint8Array, reply?: string): void {
    if (data.byteLength > this.maxPayload) {
      throw new InvalidArgumentError(`payload of ${data.byteLength} bytes exceeds max_payload of ${this.maxPayload} bytes`);
    }
    this.stats.published++;
    const sender = from.nodeId;
    if (this.down.has(sender)) {
      this.stats.dropped++;
      return;
    }
    const msg: IncomingMessage = reply === undefined ? { subject, data } : { subject, data, reply };
    const inbox = this.requests.get(subject);
    if (inbox) {
      this.enqueue(sender, { inbox: subject, nodeId: inbox.nodeId }, msg);
      return;
    }
    const plain: Sub[] = [];
    const groups = new Map<string, Sub[]>();
    for (const s of this.subs.get(subject) ?? []) {
      if (!s.active) continue;
      if (s.queue === undefined) plain.push(s);
      else if (this.canReach(sender, s.transport.nodeId)) {
        // Like the server: a queue member is chosen among the ones it can reach.
        const g = groups.get(s.queue);
        if (g) g.push(s);
        else groups.set(s.queue, [s]);
      }
    }
    for (const s of plain) this.enqueue(sender, s, msg);
    for (const g of groups.values()) this.enqueue(sender, g[Math.floor(this.random() * g.length)]!, msg);
  }

  /** @internal */
  addSub(sub: Sub): void {
    const list = this.subs.get(sub.subject);
    if (list) list.push(sub);
    else this.subs.set(sub.subject, [sub]);
  }

  /** @internal */
  removeSub(sub: Sub): void {
    sub.active = false;
    const list = this.subs.get(sub.subject);
    if (!list) return;
    const i = list.indexOf(sub);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.subs.delete(sub.subject);
  }

  /** @internal */
  hasResponder(subject: string): boolean {
    // The server only knows subscriptions of connected clients; partitions are invisible to it.
    return (this.subs.get(subject) ?? []).some((s) => s.active && !this.down.has(s.transport.nodeId));
  }

  /** @internal */
  openInbox(pending: PendingRequest): string {
    const inbox = `_INBOX.${pending.nodeId}.${++this.inboxSeq}`;
    this.requests.set(inbox, pending);
    return inbox;
  }

  /** @internal */
  closeInbox(inbox: string): void {
    this.requests.delete(inbox);
  }

  /** @internal */
  forget(t: MemoryTransport): void {
    this.transports.delete(t);
  }

  private enqueue(from: string, to: Delivery["to"], msg: IncomingMessage): void {
    // Draws happen in a fixed order per copy so that a seed fully determines the outcome.
    const { dropRate, duplicateRate, reorderWindow } = this.faults;
    const drop = this.random() < dropRate;
    const dup = this.random() < duplicateRate;
    if (drop) {
      this.stats.dropped++;
      return;
    }
    const copies = dup ? 2 : 1;
    if (dup) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      const delay = reorderWindow > 0 ? this.random() * reorderWindow : 0;
      this.queue.push({ due: this.now + delay, seq: ++this.seq, from, to, msg });
    }
    this.schedulePump();
  }

  private deliver(d: Delivery): void {
    const toNode = "inbox" in d.to ? d.to.nodeId : d.to.transport.nodeId;
    // Partitions and disconnects are checked on arrival: what was in flight when the link broke is lost.
    if (!this.canReach(d.from, toNode)) {
      this.stats.dropped++;
      return;
    }
    if ("inbox" in d.to) {
      const pending = this.requests.get(d.to.inbox);
      if (!pending) return; // late or duplicate reply
      this.record(d, toNode);
      pending.settle(d.msg.data.slice());
      return;
    }
    const sub = d.to;
    if (!sub.active) return;
    this.record(d, toNode);
    // A private copy per recipient, as over a real network: no aliasing between receivers.
    const msg: IncomingMessage = { ...d.msg, data: d.msg.data.slice() };
    try {
      sub.handler(msg);
    } catch (e) {
      this.stats.handlerErrors++;
      this.onHandlerError(e, sub.subject, toNode);
    }
  }

  private record(d: Delivery, to: string): void {
    this.stats.delivered++;
    if (this.recordDeliveries) this.deliveries.push({ from: d.from, to, subject: d.msg.subject, data: d.msg.data });
  }

  private schedulePump(): void {
    if (!this.autoDeliver || this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Soon (setImmediate), not a microtask: never inside publish, and timers get a turn between batches.
    this.clock.soon(() => {
      this.pumpScheduled = false;
      this.step(this.batchSize);
      if (this.queue.size > 0) this.schedulePump();
      else this.wakeIdle();
    });
  }

  private wakeIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private notify(nodeId: string, status: TransportStatus): void {
    for (const t of this.transports) if (t.nodeId === nodeId) t.emitStatus(status);
  }
}

export class MemoryTransport implements Transport {
  private readonly subs = new Set<Sub>();
  private readonly listeners = new Set<(s: TransportStatus) => void>();
  private readonly inflight = new Set<PendingRequest>();
  private closed = false;
  private sent = 0;

  constructor(
    readonly network: MemoryNetwork,
    readonly nodeId: string,
  ) {}

  get maxPayload(): number {
    return this.network.maxPayload;
  }

  /** Payload plus subject bytes handed to the bus (a rough stand-in for protocol overhead). */
  get bytesOut(): number {
    return this.sent;
  }

  publish(subject: string, data: Uint8Array): void {
    this.checkOpen();
    this.network.send(this, subject, data);
    this.sent += data.byteLength + subject.length;
  }

  respond(reply: string, data: Uint8Array): void {
    this.publish(reply, data);
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): () => void {
    this.checkOpen();
    const sub: Sub = { transport: this, subject, queue: options?.queue, handler, active: true };
    this.subs.add(sub);
    this.network.addSub(sub);
    return () => {
      if (this.subs.delete(sub)) this.network.removeSub(sub);
    };
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new RequestFailedError(`request on ${subject}: transport closed`, "closed"));
    return new Promise<Uint8Array>((resolve, reject) => {
      const clock = this.network.clock;
      let timer: TimerHandle | undefined;
      let inbox = "";
      const send = (): void => {
        this.network.send(this, subject, data, inbox);
        this.sent += data.byteLength + subject.length + inbox.length;
      };
      const pending: PendingRequest = {
        nodeId: this.nodeId,
        settle: (result) => {
          clock.clear(timer);
          this.network.closeInbox(inbox);
          this.inflight.delete(pending);
          if (result instanceof RequestFailedError) reject(result);
          else resolve(result);
        },
        resend: send, // same inbox, same timer: what is left of the timeout
      };
      inbox = this.network.openInbox(pending);
      this.inflight.add(pending);
      if (this.network.isConnected(this.nodeId) && !this.network.hasResponder(subject)) {
        // NATS answers "no responders" at once; asynchronously, like a server round trip.
        clock.soon(() => pending.settle(new RequestFailedError(`request on ${subject}: no responders`, "no-responders")));
        return;
      }
      timer = clock.setTimeout(
        () => pending.settle(new RequestFailedError(`request on ${subject}: no reply within ${timeoutMs} ms`, "timeout")),
        timeoutMs,
      );
      try {
        send();
      } catch (e) {
        clock.clear(timer);
        this.network.closeInbox(inbox);
        this.inflight.delete(pending);
        reject(e);
      }
    });
  }

  /** Everything published is already in the in-memory bus. */
  async flush(): Promise<void> {
    this.checkOpen();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subs) this.network.removeSub(s);
    this.subs.clear();
    for (const p of [...this.inflight]) p.settle(new RequestFailedError("request aborted: transport closed", "closed"));
    this.network.forget(this);
    this.emitStatus({ type: "closed" });
    this.listeners.clear();
  }

  /**
   * @internal Status events are delivered on a microtask, like the NATS client's async status stream.
   * On a reconnect, requests still waiting for a reply are sent again first, as NatsTransport does.
   */
  emitStatus(status: TransportStatus): void {
    if (status.type === "reconnect") for (const p of [...this.inflight]) p.resend();
    const listeners = [...this.listeners];
    queueMicrotask(() => {
      for (const l of listeners) {
        try {
          l(status);
        } catch (e) {
          console.error(`memory transport: status listener of ${this.nodeId} threw:`, e);
        }
      }
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new ConnectionError(`memory transport of ${this.nodeId} is closed`);
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** Minimal binary min-heap. */
class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
