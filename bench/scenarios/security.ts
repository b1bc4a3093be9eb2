/**
 * 8. Authenticated messages: what `security` costs. Three replicators in this process on one
 * nats-server, once per mode — none, a cluster key (HMAC-SHA256 on every message), signing keys
 * (ed25519 on every message) and both — interleaved within each run, medians over runs; every
 * figure also as a ratio to "none" of the same run.
 *
 * - convergence: isolated updates (one per 5 ms) of a GCounter, from the writer's `update` call
 *   to the later of the two peers' subscribers seeing it (p50, p99);
 * - throughput: updates of 1,000 keys in bursts of 100 per event-loop turn (one envelope per
 *   burst: the frame is per envelope, not per update), until both peers hold all of them;
 * - frames/s: seal + open of a 1 KiB payload alone, no bus (the cryptography's own ceiling).
 */
import { randomBytes } from "node:crypto";
import { createNodeKey, Key, Replicator, systemClock, type SecurityOptions } from "../../src/index.js";
import { open, seal } from "../../src/security/frame.js";
import { resolveSecurity } from "../../src/security/keys.js";
import type { BenchContext } from "../lib/context.js";
import { median, summarize } from "../lib/stats.js";

export const SECURITY_MODES = ["none", "cluster key", "signatures", "both"] as const;
export type SecurityMode = (typeof SECURITY_MODES)[number];

export interface SecurityRow {
  mode: SecurityMode;
  convergenceP50Ms: number;
  convergenceP99Ms: number;
  updatesPerSecond: number;
  framesPerSecond: number;
  /** ÷ "none" (latency: higher is slower; throughput and frames: lower is slower). */
  ratio: { p50: number; p99: number; throughput: number };
}

export interface SecurityResult {
  runs: number;
  updates: number;
  convergenceSamples: number;
  rows: SecurityRow[];
}

const CLUSTER_KEY = randomBytes(32);
const IDS = ["a", "b", "c"] as const;
const KEYS = Object.fromEntries(IDS.map((id) => [id, createNodeKey()]));
const TRUSTED = Object.fromEntries(IDS.map((id) => [id, KEYS[id]!.publicKey]));

function securityOf(mode: SecurityMode, id: string): SecurityOptions | undefined {
  const mac = { clusterKey: CLUSTER_KEY };
  const signing = { nodeKey: KEYS[id]!.seed, trustedKeys: TRUSTED };
  return mode === "none" ? undefined : mode === "cluster key" ? mac : mode === "signatures" ? signing : { ...mac, ...signing };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function withCluster<T>(url: string, mode: SecurityMode, run: string, fn: (nodes: Replicator[]) => Promise<T>): Promise<T> {
  const subject = `bench.sec.${run}.${mode.replace(" ", "-")}`;
  const nodes: Replicator[] = [];
  try {
    for (const id of IDS) nodes.push(await Replicator.start({ nodeId: id, nats: { servers: url }, subject, heartbeatIntervalMs: 200, failureTimeoutMs: 2_000, security: securityOf(mode, id) }));
    while (!nodes.every((n) => n.members().filter((m) => m.counted).length === IDS.length)) await sleep(20);
    return await fn(nodes);
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
  }
}

async function convergence(nodes: Replicator[], samples: number): Promise<{ p50: number; p99: number }> {
  const [writer, ...peers] = nodes as [Replicator, ...Replicator[]];
  const k = Key.gcounter("conv");
  const lat: number[] = [];
  for (let i = 1; i <= samples; i++) {
    const seen = peers.map((p) => new Promise<void>((resolve) => {
      const off = p.subscribe(k, (v) => {
        if ((v?.value ?? 0) >= i) {
          off();
          resolve();
        }
      });
    }));
    const t0 = performance.now();
    await writer.update(k, (v, self) => v.increment(self, 1));
    await Promise.all(seen);
    lat.push(performance.now() - t0);
    await sleep(5);
  }
  const s = summarize(lat);
  return { p50: s.p50, p99: s.p99 };
}

async function throughput(nodes: Replicator[], updates: number): Promise<number> {
  const [writer, ...peers] = nodes as [Replicator, ...Replicator[]];
  const keys = Array.from({ length: 1_000 }, (_, i) => Key.gcounter(`tp-${i}`));
  const t0 = performance.now();
  for (let i = 0; i < updates; i++) {
    void writer.update(keys[i % keys.length]!, (v, self) => v.increment(self, 1));
    if (i % 100 === 99) await turn();
  }
  // The last key written reaches its final value last (a publisher's envelopes arrive in order):
  // polling it costs the peers nothing; the totals are checked once at the end.
  const last = keys[(updates - 1) % keys.length]!;
  const deadline = Date.now() + 120_000;
  while (!peers.every((p) => p.get(last)?.value === updates / keys.length) && Date.now() < deadline) await sleep(2);
  const elapsed = performance.now() - t0;
  const total = (r: Replicator): number => keys.reduce((n, k) => n + (r.get(k)?.value ?? 0), 0);
  if (!peers.every((p) => total(p) === updates)) throw new Error("throughput: a peer did not receive every update");
  return updates / (elapsed / 1000);
}

function framesPerSecond(mode: SecurityMode): number {
  const keys = resolveSecurity(securityOf(mode, "a"), "a");
  if (keys === undefined) return NaN;
  const payload = randomBytes(1024);
  const nonce = randomBytes(16);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 200) {
    const frame = seal(keys, "s", payload, systemClock.now(), nonce);
    if (typeof open(keys, "s", frame) === "string") throw new Error("a sealed frame did not open");
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

export async function runSecurity(ctx: BenchContext): Promise<SecurityResult> {
  const server = await ctx.server();
  const updates = ctx.full ? 100_000 : 20_000;
  const samples = ctx.full ? 500 : 150;
  const perMode = new Map<SecurityMode, { p50: number[]; p99: number[]; tp: number[]; frames: number[] }>(SECURITY_MODES.map((m) => [m, { p50: [], p99: [], tp: [], frames: [] }]));
  for (let run = 0; run < ctx.runs; run++) {
    for (const mode of SECURITY_MODES) {
      ctx.progress.step(`security: ${mode} — run ${run + 1}/${ctx.runs}`, 6_000);
      const m = perMode.get(mode)!;
      await withCluster(server.url, mode, String(run), async (nodes) => {
        const c = await convergence(nodes, samples);
        m.p50.push(c.p50);
        m.p99.push(c.p99);
        m.tp.push(await throughput(nodes, updates));
      });
      m.frames.push(framesPerSecond(mode));
    }
  }
  const base = perMode.get("none")!;
  const rows = SECURITY_MODES.map((mode): SecurityRow => {
    const m = perMode.get(mode)!;
    const row = { mode, convergenceP50Ms: median(m.p50), convergenceP99Ms: median(m.p99), updatesPerSecond: median(m.tp), framesPerSecond: median(m.frames) };
    return { ...row, ratio: { p50: row.convergenceP50Ms / median(base.p50), p99: row.convergenceP99Ms / median(base.p99), throughput: row.updatesPerSecond / median(base.tp) } };
  });
  for (const r of rows) {
    ctx.progress.note(`security ${r.mode}: convergence p50 ${r.convergenceP50Ms.toFixed(2)} ms (${r.ratio.p50.toFixed(2)}×), ${Math.round(r.updatesPerSecond)} updates/s (${r.ratio.throughput.toFixed(2)}×)`);
  }
  return { runs: ctx.runs, updates, convergenceSamples: samples, rows };
}
