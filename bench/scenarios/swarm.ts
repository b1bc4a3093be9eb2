/**
 * 13. Many nodes in memory: `nodes` replicators on the in-memory bus (src/transport/memory.ts) in
 * virtual time (test/sim/virtual-clock.ts), default heartbeat and anti-entropy intervals. One node
 * writes `keys` GCounter keys; once every node holds them, the idle cluster runs for `seconds` of
 * virtual time and each node's traffic is counted by kind, payload plus subject bytes as the bus
 * carries them (no NATS protocol framing):
 *   heartbeat     the members subject (heartbeats, hellos, membership votes), sent and received
 *   anti-entropy  requests on the nodes' request subjects and their replies (digest rounds)
 *   deltas        the delta subject (nothing, once idle)
 * Received bytes grow with the cluster (each node hears every other's heartbeat); sent bytes say
 * what one node costs the bus.
 */
import { Key, MemoryNetwork, Replicator, type ReplicatorOptions } from "../../src/index.js";
import type { MemoryTransport } from "../../src/transport/memory.js";
import { TransportDecorator } from "../../src/transport/decorator.js";
import type { IncomingMessage, MessageHandler, SubscribeOptions } from "../../src/transport/types.js";
import { VirtualClock } from "../../test/sim/virtual-clock.js";
import type { BenchContext } from "../lib/context.js";
import { INCREMENT } from "../lib/node.js";
import { median } from "../lib/stats.js";

type Kind = "heartbeat" | "antiEntropy" | "deltas";
type Counts = Record<Kind, { sent: number; received: number }>;

export interface SwarmResult {
  nodes: number;
  keys: number;
  /** Virtual seconds the idle cluster was measured over. */
  seconds: number;
  /** Virtual seconds until every node saw every other as a counted member. */
  formedSeconds: number;
  /** Median over nodes, bytes per virtual second per node. */
  perNode: Counts;
  /** The busiest node's received bytes per second (all kinds). */
  maxReceivedPerSecond: number;
  /** Anti-entropy rounds the cluster ran in the window. */
  antiEntropyRounds: number;
  /** Wall time of the whole simulation, s. */
  wallSeconds: number;
}

const EPOCH_MS = Date.UTC(2025, 0, 1);
const SUBJECT = "crdt.deltas";

function kindOf(subject: string): Kind {
  if (subject === SUBJECT) return "deltas";
  if (subject.startsWith(`${SUBJECT}.members`)) return "heartbeat";
  return "antiEntropy"; // request subjects and reply inboxes
}

const zero = (): Counts => ({ heartbeat: { sent: 0, received: 0 }, antiEntropy: { sent: 0, received: 0 }, deltas: { sent: 0, received: 0 } });

/** The in-memory transport, counting bytes per kind in both directions while `counting` is on. */
class CountingTransport extends TransportDecorator {
  counts = zero();
  constructor(
    inner: MemoryTransport,
    private readonly on: { counting: boolean },
  ) {
    super(inner);
  }
  private add(kind: Kind, dir: "sent" | "received", subject: string, data: Uint8Array): void {
    if (this.on.counting) this.counts[kind][dir] += data.byteLength + subject.length;
  }
  override publish(subject: string, data: Uint8Array): void {
    this.add(kindOf(subject), "sent", subject, data);
    this.inner.publish(subject, data);
  }
  override respond(reply: string, data: Uint8Array): void {
    this.add("antiEntropy", "sent", reply, data);
    this.inner.respond(reply, data);
  }
  override subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): () => void {
    const kind = kindOf(subject);
    return this.inner.subscribe(
      subject,
      (m: IncomingMessage) => {
        this.add(kind, "received", m.subject, m.data);
        return handler(m);
      },
      options,
    );
  }
  override async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.add(kindOf(subject), "sent", subject, data);
    const reply = await this.inner.request(subject, data, timeoutMs);
    this.add(kindOf(subject), "received", subject, reply);
    return reply;
  }
}

/** Run virtual time until `done()` or `limitMs`; throws naming `what` when it does not happen. */
async function runUntil(clock: VirtualClock, done: () => boolean, limitMs: number, what: string): Promise<void> {
  if (!(await clock.until(done, limitMs))) throw new Error(`${what} did not happen within ${limitMs / 1000} s of virtual time`);
}

export async function simulateSwarm(nodes: number, keys: number, seconds: number, options: Partial<ReplicatorOptions> = {}): Promise<SwarmResult> {
  const clock = new VirtualClock(EPOCH_MS);
  const errors: unknown[] = [];
  const net = new MemoryNetwork({ seed: 13, clock, onHandlerError: (e) => errors.push(e) });
  const on = { counting: false };
  const running: { r: Replicator; tx: CountingTransport }[] = [];
  try {
    for (let i = 0; i < nodes; i++) {
      const tx = new CountingTransport(net.connect(`n${i}`), on);
      const starting = Replicator.start({ ...options, nodeId: `n${i}`, subject: SUBJECT, transport: tx, clock });
      let r: Replicator | undefined;
      starting.then((x) => (r = x), (e: unknown) => errors.push(e));
      await runUntil(clock, () => r !== undefined || errors.length > 0, 30_000, `node n${i}'s start`);
      if (r === undefined) throw errors[0];
      running.push({ r, tx });
    }
    await runUntil(clock, () => running.every(({ r }) => r.members().length === nodes && r.members().every((m) => m.counted)), 300_000, `a ${nodes}-node cluster`);
    const formedSeconds = (clock.now() - EPOCH_MS) / 1000;
    const writer = running[0]!.r;
    for (let k = 0; k < keys; k++) void writer.update(Key.gcounter(`k${k}`), INCREMENT);
    await runUntil(clock, () => running.every(({ r }) => r.size >= keys), 120_000, `${keys} keys on every node`);
    const ae0 = running.reduce((s, { r }) => s + r.stats.antiEntropyCount, 0);
    on.counting = true;
    await clock.advance(seconds * 1000);
    on.counting = false;
    const antiEntropyRounds = running.reduce((s, { r }) => s + r.stats.antiEntropyCount, 0) - ae0;
    if (errors.length > 0) throw errors[0];
    const per = (kind: Kind, dir: "sent" | "received"): number => median(running.map(({ tx }) => tx.counts[kind][dir] / seconds));
    const perNode = zero();
    for (const kind of ["heartbeat", "antiEntropy", "deltas"] as const) {
      perNode[kind] = { sent: per(kind, "sent"), received: per(kind, "received") };
    }
    const maxReceivedPerSecond = Math.max(
      ...running.map(({ tx }) => (tx.counts.heartbeat.received + tx.counts.antiEntropy.received + tx.counts.deltas.received) / seconds),
    );
    return { nodes, keys, seconds, formedSeconds, perNode, maxReceivedPerSecond, antiEntropyRounds, wallSeconds: 0 };
  } finally {
    for (const { r, tx } of running) {
      const closing = Promise.allSettled([r.close().then(() => tx.close())]);
      let done = false;
      void closing.then(() => (done = true));
      await clock.until(() => done, 10_000);
    }
  }
}

export async function runSwarm(ctx: BenchContext): Promise<SwarmResult> {
  const nodes = ctx.full ? 200 : 30;
  // Heartbeats dominate the cost (every node hears every other each second): 200 nodes is a
  // 40,000-delivery virtual second, so the window stays at two anti-entropy intervals.
  const keys = 1_000;
  const seconds = ctx.full ? 60 : 30;
  ctx.progress.step(`${nodes} nodes in memory (virtual time), ${keys.toLocaleString("en")} keys, ${seconds} s idle`);
  const t0 = performance.now();
  const res = await simulateSwarm(nodes, keys, seconds);
  res.wallSeconds = (performance.now() - t0) / 1000;
  const kb = (v: number): string => `${(v / 1024).toFixed(1)} KB/s`;
  ctx.progress.note(
    `${nodes} nodes: per node heartbeat sent ${kb(res.perNode.heartbeat.sent)} / received ${kb(res.perNode.heartbeat.received)}, anti-entropy sent ${kb(res.perNode.antiEntropy.sent)} / received ${kb(res.perNode.antiEntropy.received)} (${res.antiEntropyRounds} rounds in ${seconds} s)`,
  );
  return res;
}
