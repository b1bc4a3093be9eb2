/**
 * 12. Queue (`replicator.distributed().queue`) against raw JetStream, same server (`-js`), same
 * process, same item count, alternating run by run:
 * - raw: `js.publish` of every item (64 in flight), then a pull consumer's `fetch` in batches of 256
 *   with a plain `ack()` per message (fire and forget) until every item came;
 * - ours: `enqueue` of every item (64 in flight), then drained by 16 concurrent `dequeue` loops (at
 *   most once: each item's removal confirmed by the server), or by 16 `take` + `ack` loops (each ack
 *   confirmed).
 * Figures: items/s of the enqueue phase, of the drain phase, and of both (items ÷ total time), and
 * ours ÷ raw.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Replicator } from "../../src/index.js";
import { repeat, type BenchContext } from "../lib/context.js";
import { median } from "../lib/stats.js";

interface Phases {
  enqueuePerSecond: number;
  drainPerSecond: number;
  /** items ÷ (enqueue + drain time) */
  perSecond: number;
}

export interface QueueBenchResult {
  items: number;
  raw: Phases;
  dequeue: Phases;
  takeAck: Phases;
  /** ours ÷ raw, on the combined figure. */
  ratio: { dequeue: number; takeAck: number };
  runs: { raw: Phases; dequeue: Phases; takeAck: Phases }[];
}

const IN_FLIGHT = 64;
const LOOPS = 16;

async function inParallel(items: number, width: number, each: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items) await each(next++);
    }),
  );
}

function phases(items: number, t0: number, t1: number, t2: number): Phases {
  return { enqueuePerSecond: items / ((t1 - t0) / 1000), drainPerSecond: items / ((t2 - t1) / 1000), perSecond: items / ((t2 - t0) / 1000) };
}

async function raw(nc: NatsConnection, items: number, run: number): Promise<Phases> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = `BENCH_RAW_${run}`;
  await jsm.streams.add({ name: stream, subjects: [`bench.raw.${run}`], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  await jsm.consumers.add(stream, { durable_name: "workers", ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get(stream, "workers");
  const payload = (i: number): Uint8Array => new TextEncoder().encode(JSON.stringify({ job: i }));
  const t0 = Date.now();
  await inParallel(items, IN_FLIGHT, (i) => js.publish(`bench.raw.${run}`, payload(i)));
  const t1 = Date.now();
  let got = 0;
  while (got < items) {
    const batch = await consumer.fetch({ max_messages: 256, expires: 2_000 });
    for await (const m of batch) {
      JSON.parse(m.string());
      m.ack();
      got++;
    }
  }
  const t2 = Date.now();
  await jsm.streams.delete(stream);
  return phases(items, t0, t1, t2);
}

async function ours(r: Replicator, items: number, run: number, mode: "dequeue" | "take"): Promise<Phases> {
  const q = r.distributed().queue<{ job: number }>(`bench-${mode}-${run}`);
  await q.size(); // creates the stream and consumer outside the timing, as raw does
  const t0 = Date.now();
  await inParallel(items, IN_FLIGHT, (i) => q.enqueue({ job: i }));
  const t1 = Date.now();
  let got = 0;
  await Promise.all(
    Array.from({ length: LOOPS }, async () => {
      while (got < items) {
        if (mode === "dequeue") {
          if ((await q.dequeue()) !== undefined) got++;
        } else {
          const t = await q.take();
          if (t !== undefined) {
            await t.ack();
            got++;
          }
        }
      }
    }),
  );
  const t2 = Date.now();
  await q.destroy();
  return phases(items, t0, t1, t2);
}

export async function runQueue(ctx: BenchContext): Promise<QueueBenchResult> {
  const items = ctx.full ? 50_000 : 5_000;
  const server = await ctx.server({ jetstream: true });
  const nc = await connect({ servers: server.url });
  const r = await Replicator.start({ nodeId: "bench-queue", nats: { servers: server.url } });
  try {
    const runs = await repeat(ctx, `queue: ${items.toLocaleString("en")} items, raw JetStream vs dequeue vs take+ack`, async (run) => {
      // Alternate who goes first, so neither always gets the fresher server.
      if (run % 2 === 0) {
        const rawPhases = await raw(nc, items, run);
        return { raw: rawPhases, dequeue: await ours(r, items, run, "dequeue"), takeAck: await ours(r, items, run, "take") };
      }
      const dequeue = await ours(r, items, run, "dequeue");
      const takeAck = await ours(r, items, run, "take");
      return { raw: await raw(nc, items, run), dequeue, takeAck };
    });
    const med = (pick: (x: (typeof runs)[number]) => Phases): Phases => ({
      enqueuePerSecond: median(runs.map((x) => pick(x).enqueuePerSecond)),
      drainPerSecond: median(runs.map((x) => pick(x).drainPerSecond)),
      perSecond: median(runs.map((x) => pick(x).perSecond)),
    });
    const rawMed = med((x) => x.raw);
    const dequeue = med((x) => x.dequeue);
    const takeAck = med((x) => x.takeAck);
    return { items, raw: rawMed, dequeue, takeAck, ratio: { dequeue: dequeue.perSecond / rawMed.perSecond, takeAck: takeAck.perSecond / rawMed.perSecond }, runs };
  } finally {
    await r.close();
    await nc.close();
  }
}

/** The report's section. */
export function renderQueue(q: QueueBenchResult): string[] {
  const rate = (v: number): string => `${Math.round(v).toLocaleString("en")}/s`;
  const row = (label: string, p: Phases, ratio?: number): string => `| ${label} | ${rate(p.enqueuePerSecond)} | ${rate(p.drainPerSecond)} | ${rate(p.perSecond)} | ${ratio === undefined ? "—" : `${ratio.toFixed(2)}×`} |`;
  return [
    "## 15. Queue (vs raw JetStream publish + fetch)",
    "",
    `${q.items.toLocaleString("en")} items through one single-replica work-queue stream, in the bench process. Raw: \`js.publish\` (${IN_FLIGHT} in flight), then \`fetch\` in batches of 256 with a fire-and-forget \`ack\`. Ours: \`enqueue\` (${IN_FLIGHT} in flight), then ${LOOPS} concurrent \`dequeue\` loops (each item's removal confirmed by the server: at most once) or \`take\` + \`ack\` loops (each ack confirmed: at least once). Enqueue, drain, and both together (items ÷ total time); ratio: ours ÷ raw on the combined figure.`,
    "",
    "| | enqueue | drain | both | ours ÷ raw |",
    "| --- | ---: | ---: | ---: | ---: |",
    row("raw JetStream", q.raw),
    row("queue, dequeue", q.dequeue, q.ratio.dequeue),
    row("queue, take + ack", q.takeAck, q.ratio.takeAck),
    "",
  ];
}
