/**
 * Results: the JSON record (bench/results/<timestamp>.json and latest.json), the goals check, and
 * the rendered report (bench/results/latest.md with SVG charts next to it, which the README embeds).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { STALL_GOAL_MS, type BigSetResult } from "../scenarios/bigset.js";
import { LOCK_RATIO_GOAL, renderLocks, type LocksResult } from "../scenarios/locks.js";
import type { BytesResult } from "../scenarios/bytes.js";
import type { ChurnResult } from "../scenarios/churn.js";
import { renderHuge, type HugeResult } from "../scenarios/huge.js";
import type { CodecResult } from "../scenarios/codec.js";
import type { ConvergenceResult } from "../scenarios/convergence.js";
import { DURABILITY_MODES, type DurabilityResult } from "../scenarios/durability.js";
import type { KvResult } from "../scenarios/kv.js";
import { renderQueue, type QueueBenchResult } from "../scenarios/queue.js";
import type { NodeCountResult } from "../scenarios/nodes.js";
import type { RestartsResult } from "../scenarios/restarts.js";
import type { ScaleResult } from "../scenarios/scale.js";
import type { SecurityResult } from "../scenarios/security.js";
import type { SwarmResult } from "../scenarios/swarm.js";
import type { ThroughputResult } from "../scenarios/throughput.js";
import type { MachineInfo } from "./machine.js";
import type { LatencySummary } from "./stats.js";
import { groupedBars, horizontalBars, lineChart, short } from "./svg.js";

export interface Scenarios {
  convergence?: ConvergenceResult;
  throughput?: ThroughputResult;
  bytes?: BytesResult;
  kv?: KvResult;
  scale?: ScaleResult;
  codec?: CodecResult;
  durability?: DurabilityResult;
  security?: SecurityResult;
  churn?: ChurnResult;
  restarts?: RestartsResult;
  bigset?: BigSetResult;
  locks?: LocksResult;
  queue?: QueueBenchResult;
  nodes?: NodeCountResult;
  swarm?: SwarmResult;
  huge?: HugeResult;
}

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  /** "indicative": measured at a smaller size than the goal's (quick mode), so not judged. */
  status: "met" | "missed" | "not measured" | "indicative";
  note?: string;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  mode: "quick" | "full";
  runs: number;
  machine: MachineInfo;
  scenarios: Scenarios;
  errors: Record<string, string>;
  /** Per scenario: wall time, and the machine's 1-minute load average before and after (other work on the machine shows here). */
  timing?: Record<string, { seconds: number; load1Start: number; load1End: number }>;
  goals: Goal[];
}

const OURS = "#1f77b4";
const BASE = "#ff7f0e";
const KV = "#2ca02c";

// ================================================================== goals

export function checkGoals(s: Scenarios): Goal[] {
  const goals: Goal[] = [];
  const add = (goal: string, target: string, measured: number | undefined, fmt: (v: number) => string, ok: (v: number) => boolean, note?: string): void => {
    if (measured === undefined || !Number.isFinite(measured)) {
      goals.push({ goal, target, measured: "—", status: "not measured", ...(note ? { note } : {}) });
      return;
    }
    goals.push({ goal, target, measured: fmt(measured), status: ok(measured) ? "met" : "missed", ...(note ? { note } : {}) });
  };
  // Issue 13: at 100/s and 1,000/s, against raw NATS fan-out at the same rate in the same run.
  for (const rate of [100, 1000]) {
    const conv = s.convergence?.rows.find((r) => r.rate === rate && r.peers === 4);
    const at = `${rate.toLocaleString("en")}/s, 4 peers`;
    add(`Convergence p50 vs raw NATS fan-out p50 (${at})`, "≤ 1.3×", conv?.ratio.p50, (v) => `${v.toFixed(2)}× (${ms(conv!.ours.p50)} vs ${ms(conv!.raw.p50)})`, (v) => v <= 1.3);
    add(`Convergence p99 vs raw NATS fan-out p99 (${at})`, "≤ 1.5×", conv?.ratio.p99, (v) => `${v.toFixed(2)}× (${ms(conv!.ours.p99)} vs ${ms(conv!.raw.p99)})`, (v) => v <= 1.5);
    add(`Convergence max vs raw NATS fan-out max (${at})`, "≤ 1.5×", conv?.ratio.max, (v) => `${v.toFixed(2)}× (${ms(conv!.ours.max)} vs ${ms(conv!.raw.max)})`, (v) => v <= 1.5);
  }
  const tp = s.throughput;
  add("Local updates/s, one node, one hot key", "≥ 1,000,000/s", tp?.local.hot.perSecond, rate, (v) => v >= 1e6);
  add("Local updates/s per node, 3 nodes bursting at once (slowest node)", "≥ 300,000/s", tp?.burst.minPerNodePerSecond, rate, (v) => v >= 3e5);
  add("Burst end → all 3 nodes converged", "≤ 50 ms", tp?.burst.convergeMs, ms, (v) => v <= 50);
  add("Local updates/s, one node, 100k distinct keys (first write)", "≥ 1,000,000/s", tp?.local.distinctFirst.perSecond, rate, (v) => v >= 1e6);
  add("Replicated bytes per update, 100k distinct keys (first write)", "≤ 24 B", tp?.local.distinctFirst.bytesPerUpdate, (v) => `${v.toFixed(1)} B`, (v) => v <= 24);
  add(
    "Contended counter vs NATS KV (3 processes × 2,000)",
    "≥ 200×",
    s.kv?.counter.ratio,
    (v) => `${v.toFixed(0)}× (${rate(s.kv!.counter.oursConvergedPerSecond)} vs ${rate(s.kv!.counter.kvPerSecond)})`,
    (v) => v >= 200,
  );
  const b100 = s.bytes?.rows.filter((r) => r.rate === 100) ?? [];
  const worst100 = b100.length > 0 ? Math.max(...b100.map((r) => r.publishedPerUpdate)) : undefined;
  add(
    "Bytes published per counter update at 100/s (empty and large store)",
    "≤ 64 B",
    worst100,
    () => b100.map((r) => `${r.publishedPerUpdate.toFixed(1)} B (${r.storeKeys ? short(r.storeKeys) + " keys" : "empty store"}; ${r.wirePerUpdate.toFixed(0)} B on the socket)`).join(", "),
    (v) => v <= 64,
    "the NATS client's outBytes (= transport bytesOut), heartbeats excluded",
  );
  if (b100.length >= 2) {
    const spread = Math.max(...b100.map((r) => r.publishedPerUpdate)) - Math.min(...b100.map((r) => r.publishedPerUpdate));
    add("…independent of store size", "same within 2 B", spread, (v) => `differ by ${v.toFixed(1)} B`, (v) => v <= 2);
  }
  const byRate = (s.bytes?.rows ?? []).filter((r) => r.storeKeys === 0).sort((a, b) => (a.rate || Infinity) - (b.rate || Infinity));
  if (byRate.length >= 2) {
    const falling = byRate.every((r, i) => i === 0 || r.wirePerUpdate < byRate[i - 1]!.wirePerUpdate);
    const falling2 = byRate.every((r, i) => i === 0 || r.publishedPerUpdate < byRate[i - 1]!.publishedPerUpdate);
    add("Hot keys coalesce (bytes/update fall as the rate rises)", "strictly falling", falling && falling2 ? 1 : 0, () => byRate.map((r) => `${r.publishedPerUpdate.toFixed(1)}`).join(" → ") + " B", (v) => v === 1);
  } else add("Hot keys coalesce", "strictly falling", undefined, String, () => false);
  const sc = s.scale;
  const scaleStart = goals.length;
  const at = sc === undefined || sc.keys >= 1_000_000 ? "" : ` (measured at ${short(sc.keys)} keys)`;
  // Issue 13's targets (the first benchmark issue's were 300 B, 5 s and 20 s).
  add(`Heap bytes per key, 1 M keys${at}`, "≤ 150 B", sc?.heapBytesPerKey, (v) => `${v.toFixed(0)} B`, (v) => v <= 150);
  const restore = snapshotFigure(sc?.snapshot.result, "restoreMs");
  add(`Snapshot restore, 1 M keys${at}`, "≤ 1.5 s", restore, ms, (v) => v <= 1500, sc?.snapshot.available ? undefined : sc?.snapshot.note);
  const lastJoin = sc?.joins[sc.joins.length - 1];
  add(`New node catches up, 1 M keys${at}`, "≤ 2 s", lastJoin?.catchUpMs, ms, (v) => v <= 2000);
  add(`Idle anti-entropy round, 1 M keys${at}`, "≤ 10 KB", sc?.antiEntropy.idleRoundBytes, bytes, (v) => v <= 10 * 1024);
  const scaleEnd = goals.length;
  const h = s.huge;
  const hugeStart = goals.length;
  const hAt = h === undefined || h.keys >= 10_000_000 ? "" : ` (measured at ${short(h.keys)} keys)`;
  add(`Heap, 10 M keys on one node${hAt}`, "≤ 2 GB", h === undefined ? undefined : (h.heapBytesPerKey * 10_000_000) / 2 ** 30, (v) => `${v.toFixed(2)} GB (${h!.heapBytesPerKey.toFixed(0)} B per key)`, (v) => v <= 2);
  add(`Snapshot restore, 10 M keys${hAt}`, "≤ 15 s", snapshotFigure(h?.snapshot.result, "restoreMs"), ms, (v) => v <= 15_000, h?.snapshot.available === false ? h.snapshot.note : undefined);
  add(`New node catches up, 10 M keys${hAt}`, "≤ 25 s", h?.catchUpMs, ms, (v) => v <= 25_000);
  add(`Idle anti-entropy round, 10 M keys${hAt}`, "≤ 10 KB", h?.idleRoundBytes, bytes, (v) => v <= 10 * 1024);
  if (h !== undefined && h.keys < 10_000_000) {
    for (const g of goals.slice(hugeStart)) if (g.status !== "not measured") g.status = "indicative";
  }
  const rs = s.restarts;
  add("Heap per key after 100 writer restarts vs fresh (worst kind)", "≤ 1.10×", rs?.ratio.heap, (v) => `${v.toFixed(2)}×`, (v) => v <= 1.1);
  add("Bytes per key after 100 writer restarts vs fresh (worst kind)", "≤ 1.10×", rs?.ratio.bytes, (v) => `${v.toFixed(2)}×`, (v) => v <= 1.1);
  // Below a million keys (quick mode) these do not judge the goal: heap per key falls and catch-up
  // time grows with the key count.
  if (sc !== undefined && sc.keys < 1_000_000) {
    for (const g of goals.slice(scaleStart, scaleEnd)) if (g.status !== "not measured") g.status = "indicative";
  }
  const churn = s.churn?.rows;
  const churnRatio = churn === undefined ? undefined : Math.max(...churn.map((r) => Math.max(r.heapPerKeyAfterChurn / r.heapPerKeyFresh, r.bytesPerKeyAfterChurn / r.bytesPerKeyFresh)));
  add("Heap and bytes per key after map churn vs a fresh map", "≤ 1.10×", churnRatio, (v) => `${v.toFixed(3)}× at most (${churn!.map((r) => r.kind).join(", ")})`, (v) => v <= 1.1);
  const big = s.bigset;
  const bigAt = big === undefined || big.elements >= 1_000_000 ? "" : ` (measured at ${short(big.elements)} elements)`;
  add(
    `Longest event-loop stall, one element added to a 1 M-element ORSet${bigAt}`,
    `< ${STALL_GOAL_MS} ms`,
    big === undefined ? undefined : Math.max(big.stepCpuMs.writer, big.stepCpuMs.peer),
    (v) => `${ms(v)} of CPU at most in one step (writer ${ms(big!.stepCpuMs.writer)}, peer ${ms(big!.stepCpuMs.peer)}); event-loop delay up to ${ms(Math.max(big!.maxStallMs.writer, big!.maxStallMs.peer))}`,
    (v) => v < STALL_GOAL_MS,
    "judged on the CPU time within one event-loop gap: the delay also counts time the OS did not schedule the process (load average)",
  );
  if (big !== undefined && big.elements < 1_000_000) goals[goals.length - 1]!.status = "indicative";
  add("Uncontended lock acquire + release vs one raw KV revision-checked update", `≤ ${LOCK_RATIO_GOAL}×`, s.locks?.ratio, (v) => `${v.toFixed(2)}× (${Math.round(s.locks!.handoffsPerSecond)} handoffs/s with ${s.locks!.contenders} contenders)`, (v) => v <= LOCK_RATIO_GOAL);
  const nc = s.nodes;
  const span = nc === undefined ? "" : `${nc.rows[0]!.nodes} → ${nc.rows[nc.rows.length - 1]!.nodes} processes`;
  // "Flat": the ratio to raw fan-out at the largest N is within 1.2× of the same ratio at 3 nodes.
  add(`Convergence p50 ratio to raw fan-out, ${span || "3 → 12 processes"} (growth)`, "≤ 1.2× (flat)", nc?.growth.p50, (v) => `${v.toFixed(2)}× (${nc!.rows.map((r) => `${r.nodes}: ${r.ratio.p50.toFixed(2)}×`).join(", ")})`, (v) => v <= 1.2);
  add(`Bytes per update ratio to raw fan-out, ${span || "3 → 12 processes"} (growth)`, "≤ 1.2× (flat)", nc?.growth.bytes, (v) => `${v.toFixed(2)}× (${nc!.rows.map((r) => `${r.nodes}: ${r.ratio.bytes.toFixed(2)}×`).join(", ")})`, (v) => v <= 1.2);
  if (nc !== undefined && nc.rows[nc.rows.length - 1]!.nodes < 12) {
    for (const g of goals.slice(-2)) if (g.status !== "not measured") g.status = "indicative";
  }
  return goals;
}

/** A figure out of runSnapshotBench's result (bench/snapshot.ts), by field name. */
function snapshotFigure(result: unknown, field: string): number | undefined {
  const r = result as Record<string, unknown> | undefined;
  const v = r?.[field];
  return typeof v === "number" ? v : undefined;
}

// ================================================================== formatting

function ms(v: number): string {
  if (!Number.isFinite(v)) return "—";
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  if (v >= 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(3)} ms`;
}
function rate(v: number): string {
  if (!Number.isFinite(v)) return "—";
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M/s` : v >= 1e4 ? `${(v / 1e3).toFixed(0)} k/s` : `${v.toFixed(0)}/s`;
}
function bytes(v: number): string {
  if (!Number.isFinite(v)) return "—";
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} MB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KB` : `${v.toFixed(0)} B`;
}
/** Bytes per update; "—" for results written before the figure existed (or NaN, which JSON keeps as null). */
function bytesPer(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "—" : `${v.toFixed(1)} B`;
}

/** "3.2× faster" / "1.4× slower" for latencies (lower is better). */
function faster(ours: number, other: number): string {
  if (!Number.isFinite(ours) || !Number.isFinite(other) || ours <= 0 || other <= 0) return "—";
  const f = other / ours;
  return f >= 1 ? `${f >= 100 ? f.toFixed(0) : f.toFixed(1)}× faster` : `${(1 / f).toFixed(1)}× slower`;
}
function x(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(2)}×` : "—";
}
function table(header: string[], rows: (string | number)[][], align?: ("l" | "r")[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? "l" : "r"));
  return [
    `| ${header.join(" | ")} |`,
    `| ${a.map((s) => (s === "l" ? ":--" : "--:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}
function lat(l: LatencySummary): string[] {
  return [ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max)];
}

// ================================================================== rendering

export interface Rendered {
  markdown: string;
  svgs: Record<string, string>;
}

export function render(r: BenchResults): Rendered {
  const s = r.scenarios;
  const m = r.machine;
  const svgs: Record<string, string> = {};
  const out: string[] = [];
  out.push(`# crdt-replicator benchmark results`);
  out.push("");
  out.push(
    `Mode **${r.mode}** (\`npm run bench${r.mode === "full" ? " -- --full" : ""}\`), ${r.runs} runs per figure, medians reported; started ${r.startedAt}, took ${Math.round(r.durationSeconds)} s.`,
  );
  out.push(
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}${m.gcTuned === true ? " with `tuneGarbageCollection()` (nodejs/node#61967)" : ""}; nats-server ${m.natsServer}; NATS client ${m.natsClient}; commit ${m.commit}${m.dirty ? " (uncommitted changes)" : ""}; load average at start ${m.loadAverage.join(" / ")}${m.memoryTouch === undefined ? "" : `; fresh memory's first touch ${m.memoryTouch.firstNsPerByte} ns/B (again ${m.memoryTouch.againNsPerByte} ns/B)`}.`,
  );
  out.push(
    "Every node is a separate OS process on loopback against a nats-server the suite starts; timestamps come from `process.hrtime.bigint()` (one monotonic clock shared by all processes); baselines are measured in the same run, interleaved with ours where they compete for the same CPU.",
  );
  if (r.timing !== undefined) {
    out.push(
      `Per scenario (wall time; 1-minute load average before → after, ${m.cores} cores): ${Object.entries(r.timing)
        .map(([k, t]) => `${k} ${Math.round(t.seconds)} s (${t.load1Start} → ${t.load1End})`)
        .join(", ")}.`,
    );
  }
  out.push("");
  out.push("## Goals");
  out.push("");
  out.push(table(["goal", "target", "measured", "status"], r.goals.map((g) => [g.goal + (g.note ? ` — ${g.note}` : ""), g.target, g.measured, g.status === "met" ? "✅ met" : g.status === "missed" ? "❌ missed" : g.status === "indicative" ? "ℹ️ indicative (run --full)" : "— not measured"]), ["l", "l", "l", "l"]));
  out.push("");
  for (const [name, err] of Object.entries(r.errors)) out.push(`> **${name} failed:** ${err.split("\n")[0]}`, "");

  if (s.convergence) {
    out.push("## 1. Convergence latency");
    out.push("");
    out.push(
      "One writer updates a GCounter at a fixed rate (its value is the update's sequence number); per update, the time from the writer's `update` call until every peer's subscriber has seen it. Baseline: raw NATS publish → the last of N subscribers, same processes, rate and payload size. Latencies in ms.",
    );
    out.push("");
    out.push(
      table(
        ["rate", "peers", "payload", "ours p50", "p90", "p99", "max", "raw p50", "p90", "p99", "max", "ours/raw p50", "p99", "max", "lost (ours/raw)"],
        s.convergence.rows.map((c) => [`${c.rate}/s`, c.peers, `${c.payloadBytes} B`, ...lat(c.ours), ...lat(c.raw), x(c.ratio.p50), x(c.ratio.p99), x(c.ratio.max), `${c.lost.ours}/${c.lost.raw}`]),
      ),
    );
    out.push("", `Measured ${[...new Set(s.convergence.rows.map((c) => `${c.seconds} s at ${c.rate}/s`))].join(", ")} per run after a warm-up. Reference (issue): raw NATS 1→4 fan-out p50 0.30 ms, p99 2.5 ms; actor-ts p50 1,464 ms.`, "");
    // Rows of results from before the CPU figures have none: no line for them.
    const cpuRows = s.convergence.rows.flatMap(({ rate, peers, cpuUsPerUpdate: u }) =>
      u === undefined ? [] : [[`${rate}/s`, peers, u.ours.writer.toFixed(1), u.ours.peer.toFixed(1), u.raw.writer.toFixed(1), u.raw.peer.toFixed(1), x(u.ours.peer / u.raw.peer)]],
    );
    if (cpuRows.length > 0) {
      out.push(
        "CPU time per update (user + system, µs): the writer's while it wrote, and a peer's while it watched (its background work included). On 2 cores shared by the writer, the peers and nats-server, the last peer mostly waits for the peers' CPU.",
        "",
        table(["rate", "peers", "ours writer", "ours peer", "raw writer", "raw peer", "peer ours/raw"], cpuRows),
        "",
      );
    }
    svgs["latency.svg"] = groupedBars({
      title: "Convergence latency vs raw NATS fan-out (ms, medians)",
      unit: "ms",
      series: [
        { name: "crdt-replicator", color: OURS },
        { name: "raw NATS", color: BASE },
      ],
      groups: s.convergence.rows.flatMap((c) => (["p50", "p90", "p99", "max"] as const).map((p) => ({ label: p, values: [c.ours[p], c.raw[p]] }))),
      sections: s.convergence.rows.map((c) => ({ label: `${c.rate.toLocaleString("en")}/s → ${c.peers} peers`, groups: 4 })),
    });
    out.push("![convergence latency](latency.svg)", "");
  }

  if (s.throughput) {
    const t = s.throughput;
    out.push("## 2. Throughput");
    out.push("");
    out.push(
      `Local \`update\` calls, each awaited, one event-loop turn yielded per ${t.batch} calls (so the outbox publishes during the loop and its cost is counted). Three-node burst: ${t.burst.perNode.toLocaleString("en")} increments per node of one shared GCounter, started at one instant of the shared clock.`,
    );
    out.push("");
    out.push(
      table(
        ["measurement", "result"],
        [
          [`one node, one hot key (${t.local.hot.updates.toLocaleString("en")} updates)`, rate(t.local.hot.perSecond)],
          [`one node, ${t.local.distinctFirst.keys.toLocaleString("en")} distinct keys, first write`, rate(t.local.distinctFirst.perSecond)],
          [`… replicated bytes per update (envelopes published ÷ updates)`, bytesPer(t.local.distinctFirst.bytesPerUpdate)],
          [`one node, ${t.local.distinctExisting.keys.toLocaleString("en")} distinct keys, existing`, rate(t.local.distinctExisting.perSecond)],
          [`… replicated bytes per update`, bytesPer(t.local.distinctExisting.bytesPerUpdate)],
          ["3 nodes at once, per node (median of nodes)", rate(t.burst.perNodePerSecond)],
          ["3 nodes at once, slowest node", rate(t.burst.minPerNodePerSecond)],
          [`last update of the burst issued → all 3 show ${(3 * t.burst.perNode).toLocaleString("en")}`, ms(t.burst.convergeMs)],
          [`baseline: raw NATS 1→1, ${t.raw.size}-byte messages (at the subscriber)`, rate(t.raw.perSecond)],
          ["baseline: raw NATS publisher rate", rate(t.raw.publisherPerSecond)],
        ],
      ),
    );
    out.push("", "Reference (issue): raw NATS 1→1 ~460k msgs/s; actor-ts ~90k local updates/s per node, 2.4 s from burst end to convergence.", "");
    const bars = [
      { label: "one node, hot key", value: t.local.hot.perSecond, color: OURS },
      { label: "one node, 100k keys (first write)", value: t.local.distinctFirst.perSecond, color: OURS },
      { label: "one node, 100k keys (existing)", value: t.local.distinctExisting.perSecond, color: OURS },
      { label: "3 nodes at once, per node", value: t.burst.perNodePerSecond, color: OURS },
      { label: "raw NATS 1→1, 100 B msgs", value: t.raw.perSecond, color: BASE },
    ];
    if (s.kv) {
      bars.push({ label: "contended counter, ours (to convergence)", value: s.kv.counter.oursConvergedPerSecond, color: OURS });
      bars.push({ label: "contended counter, NATS KV", value: s.kv.counter.kvPerSecond, color: KV });
    }
    svgs["throughput.svg"] = horizontalBars({ title: "Throughput (operations per second, medians)", unit: "per second", bars: bars.map((b) => ({ ...b, text: rate(b.value) })) });
    out.push("![throughput](throughput.svg)", "");
  }

  if (s.bytes || s.scale) {
    out.push("## 3. Bytes on the wire");
    out.push("");
    if (s.bytes) {
      out.push(
        "One node (id `node-1`), one GCounter (`counter-N`). *Published* = the NATS client's own count of published bytes (`stats().outBytes`, what the transport's `bytesOut` reports); *socket* = bytes the client wrote to its TCP socket (adds `PUB crdt.deltas <n>` framing, ~22 B a message); both with heartbeats taken out. *Envelope* = `stats.bytesPublished`.",
      );
      out.push("");
      out.push(
        table(
          ["rate", "keys preloaded", "updates", "published B/update", "socket B/update", "envelope B/update", "updates/envelope"],
          s.bytes.rows.map((b) => [
            b.rate === 0 ? "full speed" : `${b.rate}/s`,
            b.storeKeys.toLocaleString("en"),
            b.updates.toLocaleString("en"),
            b.publishedPerUpdate.toFixed(1),
            b.wirePerUpdate.toFixed(1),
            b.payloadPerUpdate.toFixed(1),
            b.updatesPerEnvelope.toFixed(1),
          ]),
        ),
      );
      out.push("");
    }
    if (s.scale) {
      const i = s.scale.idle;
      out.push(
        `Idle 3-node cluster holding ${s.scale.keys.toLocaleString("en")} keys: **${bytes(i.bytesPerSecond)}/s** measured over ${i.windowSeconds} s (all client writes of the 3 nodes; ${i.antiEntropyRoundsInWindow} anti-entropy rounds fell in the window); **${bytes(i.atDefaultsBytesPerSecond)}/s** at the default intervals (heartbeats + 3 idle anti-entropy rounds per 30 s).`,
      );
      out.push("");
    }
  }

  if (s.kv) {
    const k = s.kv;
    out.push("## 4. Against NATS JetStream KV");
    out.push("");
    out.push(
      table(
        ["measurement", "crdt-replicator", "NATS KV", "comparison"],
        [
          [
            `contended counter, ${k.counter.processes} processes × ${k.counter.perProcess.toLocaleString("en")} increments (increments/s)`,
            `${rate(k.counter.oursConvergedPerSecond)} to convergence (${rate(k.counter.oursLocalPerSecond)} local)`,
            `${rate(k.counter.kvPerSecond)} (${k.counter.kvConflicts} conflicts retried)`,
            `${k.counter.ratio.toFixed(0)}× KV's rate`,
          ],
          [`update → ${k.watch.watchers} watchers p50 (${k.watch.rate}/s)`, ms(k.watch.ours.p50), ms(k.watch.kv.p50), faster(k.watch.ours.p50, k.watch.kv.p50)],
          ["… p90", ms(k.watch.ours.p90), ms(k.watch.kv.p90), faster(k.watch.ours.p90, k.watch.kv.p90)],
          ["… p99", ms(k.watch.ours.p99), ms(k.watch.kv.p99), faster(k.watch.ours.p99, k.watch.kv.p99)],
          ["… max", ms(k.watch.ours.max), ms(k.watch.kv.max), faster(k.watch.ours.max, k.watch.kv.max)],
          [`read p50 (local \`get\` vs \`kv.get\`, ${k.get.reads.toLocaleString("en")} reads)`, `${(k.get.ours.p50 * 1e6).toFixed(0)} ns (mean ${k.get.oursMeanNs.toFixed(0)} ns)`, ms(k.get.kv.p50), faster(k.get.ours.p50, k.get.kv.p50)],
          ["read p99", `${(k.get.ours.p99 * 1e6).toFixed(0)} ns`, ms(k.get.kv.p99), faster(k.get.ours.p99, k.get.kv.p99)],
        ],
      ),
    );
    out.push(
      "",
      "Ours counts until every node shows the total (each run: the median of 5 bursts); KV counts until the last process's last revision-checked update succeeded. Per-call read latencies include the cost of reading the clock twice (~50–100 ns); the mean comes from a million back-to-back reads. Reference (issue): KV put→watch p50 1.1 ms, p99 3.7 ms; contended KV counter 1,575/s; kv.get p50 0.15 ms.",
      "",
    );
  }

  if (s.scale) {
    const c = s.scale;
    out.push("## 5. Scale");
    out.push("");
    out.push(
      `GCounter keys written on one node (\`node.load\`: 1,000 updates per event-loop turn) and replicated to two others; ${r.mode === "quick" ? "quick mode scales the issue's 1 M keys down (sizes below)" : "full sizes"}. *First AE rounds*: two anti-entropy rounds right after the load, which rehash what the background rehash has not reached yet; the joins are measured after them, on a settled cluster. New node: a fresh process, from \`Replicator.start\` until it holds every key (default heartbeat interval: discovery takes up to 1 s of it); *digest ready*: until its digest tree holds every key's hash too (a bulk pull's hashes go in after its last page; peers' anti-entropy rounds with it wait till then).`,
    );
    out.push("");
    out.push(
      table(
        ["keys", "replicated load", "first AE rounds after it", "new node catch-up", "digest ready", "bytes into new node", "bytes out of the 3 nodes"],
        c.joins.map((j) => [j.keys.toLocaleString("en"), ms(j.loadMs), ms(j.settleMs ?? NaN), ms(j.catchUpMs), j.digestMs === undefined ? "—" : ms(j.digestMs), bytes(j.joinerBytesIn), bytes(j.clusterBytesOut)]),
      ),
    );
    out.push("");
    const sn = (c.snapshot.available ? c.snapshot.result : undefined) as Record<string, number> | undefined;
    const snapRows: string[][] =
      sn === undefined
        ? [["snapshot write / restore", `not measured — ${c.snapshot.note ?? ""}`]]
        : [
            [`snapshot: first full write (${(sn["keys"] ?? c.keys).toLocaleString("en")} keys)`, `${ms(sn["fullWriteMs"] ?? NaN)} (longest event-loop stall ${ms(sn["maxStallWriteMs"] ?? NaN)})`],
            [`snapshot: incremental write (${(sn["incrementalKeys"] ?? NaN).toLocaleString("en")} keys changed)`, ms(sn["incrementalWriteMs"] ?? NaN)],
            ["snapshot: restore", `${ms(sn["restoreMs"] ?? NaN)} (longest stall ${ms(sn["maxStallRestoreMs"] ?? NaN)})`],
            ["snapshot: digest after the restore, CPU (keys rehashed)", `${ms(sn["restoreDigestCpuMs"] ?? NaN)} (${(sn["restoreRehashedKeys"] ?? NaN).toLocaleString("en")})`],
            ["snapshot: size on disk", bytes(sn["dbBytes"] ?? NaN)],
          ];
    out.push(
      table(
        [`at ${c.keys.toLocaleString("en")} keys`, "result"],
        [
          ["heap bytes per key (median of 3 nodes: writer / receiver / receiver)", `${c.heapBytesPerKey.toFixed(0)} B (${c.heapPerNode.map((v) => v.toFixed(0)).join(" / ")})`],
          ["anti-entropy round, nothing differs", `${bytes(c.antiEntropy.idleRoundBytes)} in ${ms(c.antiEntropy.idleRoundMs)}`],
          [`anti-entropy round, ${c.antiEntropy.diffKeys} keys differ`, `${bytes(c.antiEntropy.diffRoundBytes)} in ${ms(c.antiEntropy.diffRoundMs)}${c.antiEntropy.diffVerified ? "" : " (difference NOT verified)"}`],
          ...snapRows,
        ],
      ),
    );
    out.push("", "Reference (issue/DESIGN): Akka DData advises ≤ 100,000 keys with tens of seconds for a new node to catch up.", "");
    svgs["catchup.svg"] = lineChart({
      title: "New node catch-up time vs keys held by the cluster",
      xLabel: "keys",
      yLabel: "seconds",
      points: c.joins.map((j) => ({ x: j.keys, y: j.catchUpMs / 1000, label: `${(j.catchUpMs / 1000).toFixed(2)} s` })),
      goal: { y: 20, label: "goal at 1 M keys: 20 s" },
    });
    out.push("![catch-up time vs key count](catchup.svg)", "");
  }

  if (s.codec) {
    const c = s.codec;
    out.push("## 6. Codec");
    out.push("");
    out.push(`From bench/codec.ts: encode + decode per second (one op = both), median of ${c.repetitions}. *library* = the codec the replicator uses (Crdt ↔ bytes, with validation); protobufjs and ts-proto alone for reference.`);
    out.push("");
    out.push(table(["case", "bytes", "library/s", "protobufjs/s", "ts-proto/s"], c.rows.map((row) => [row.case, row.bytes, short(row.value), short(row.protobufjs), short(row.tsProto)])));
    out.push("");
  }

  if (s.churn) {
    const c = s.churn;
    out.push("## 9. Map churn");
    out.push("");
    out.push(
      `Per map type, in a process of its own after a full gc: ${short(c.rows[0]?.keys ?? 0)} keys added to a fresh map, versus the same number added after as many keys were added and all removed; and what the emptied map kept. Removing a key drops its value, so a map used as a session table does not grow.`,
    );
    out.push("");
    out.push(
      table(
        ["map", "heap/key fresh", "heap/key after churn", "bytes/key fresh", "bytes/key after churn", "heap left when emptied", "state bytes when emptied"],
        c.rows.map((r) => [
          r.kind,
          `${r.heapPerKeyFresh.toFixed(0)} B`,
          `${r.heapPerKeyAfterChurn.toFixed(0)} B`,
          `${r.bytesPerKeyFresh.toFixed(1)} B`,
          `${r.bytesPerKeyAfterChurn.toFixed(1)} B`,
          bytes(r.heapLeftEmpty),
          `${r.bytesLeftEmpty} B`,
        ]),
      ),
    );
    out.push("");
  }

  if (s.durability) {
    const d = s.durability;
    out.push("## 7. Durability");
    out.push("");
    out.push(
      `A lone node with a snapshot directory; local \`update\`s per second, each client awaiting its own before the next (${d.seconds} s per measurement, modes interleaved, median of ${d.runs}). *Write-behind*: LevelDB written every interval (the default). *Write-through*: each update resolves once its change is in LevelDB; concurrent updates share one batch (updates per batch in brackets). *+ sync*: each batch also fsynced.`,
    );
    out.push("");
    const perBatch = (v: number): string => (Number.isFinite(v) ? ` (${v.toFixed(1)}/batch)` : "");
    const fraction = (v: number): string => (v >= 0.1 || !(v > 0) ? x(v) : `${v.toPrecision(2)}× (1/${Math.round(1 / v)})`);
    out.push(
      table(
        ["clients", ...DURABILITY_MODES, "write-through / write-behind", "+ sync / write-behind"],
        d.rows.map((row) => [
          row.clients,
          ...DURABILITY_MODES.map((m) => rate(row.perSecond[m]) + perBatch(row.updatesPerBatch[m])),
          fraction(row.ratio.writeThrough),
          fraction(row.ratio.writeThroughSync),
        ]),
      ),
    );
    out.push("");
  }
  if (s.security) {
    const c = s.security;
    out.push("## 8. Authenticated messages");
    out.push("");
    out.push(
      `Three replicators in one process on one nats-server, per \`security\` mode (interleaved, median of ${c.runs}). *Convergence*: ${c.convergenceSamples} isolated updates, writer's call → both peers' subscribers. *Throughput*: ${c.updates.toLocaleString("en")} updates of 1,000 keys in bursts of 100 until both peers hold them. *Frames/s*: seal + open of 1 KiB alone. Ratios are to "none" in the same run.`,
    );
    out.push("");
    out.push(
      table(
        ["mode", "convergence p50", "p99", "× none (p50)", "updates/s", "× none", "frames/s"],
        c.rows.map((r) => [r.mode, `${r.convergenceP50Ms.toFixed(2)} ms`, `${r.convergenceP99Ms.toFixed(2)} ms`, x(r.ratio.p50), rate(r.updatesPerSecond), x(r.ratio.throughput), Number.isFinite(r.framesPerSecond) ? short(r.framesPerSecond) : "—"]),
      ),
    );
    out.push("");
  }
  if (s.restarts) {
    const r = s.restarts;
    out.push("## 10. Metadata after 100 writer restarts");
    out.push("");
    out.push(
      "Two replicators on the in-memory bus (virtual time). The writer increments every counter key, adds an element to every set key and increments a field of every PNCounterMap key 101 times, restarting without a snapshot before each of the last 100 runs (a fresh writer id each time), or never; measured on the other replica once the prune folded the retired ids. Heap: per value as decoded (a restore or a pull builds them so), a GC difference over 20,000 decoded copies per kind.",
    );
    out.push("");
    const rows = [r.fresh, r.restarted].flatMap((row) =>
      Object.entries(row.kinds).map(([kind, k]) => [row.restarts === 0 ? "fresh" : `${row.restarts} restarts`, kind, k.keys, row.writerIdsPerKey, k.bytesPerKey.toFixed(1), k.heapBytesPerKey.toFixed(0)]),
    );
    out.push(table(["writer", "kind", "keys", "writer ids per key", "bytes per key", "heap per key"], rows));
    out.push("");
  }
  if (s.bigset) {
    const b = s.bigset;
    out.push("## 11. Big values");
    out.push("");
    out.push(
      `One ORSet of ${short(b.elements)} elements on 2 replicas over NATS (built in ${b.buildSeconds.toFixed(1)} s, on the peer after ${b.peerSeconds.toFixed(1)} s), then ${b.changes} changes of one element, each hashed on its own. Longest step: the most CPU time a replica used within one gap between 1 ms timer ticks during the changes (at least its longest synchronous step); in brackets the longest event-loop delay (perf_hooks monitorEventLoopDelay), which also counts the time the OS did not schedule the process (see the load average). Hash per change: the changed element moved into the set's per-element sum; the baseline is the full rehash every change paid before (SHA-256 over the whole encoding), measured in the same run on the same value.`,
    );
    out.push("");
    out.push(
      table(
        ["elements", "longest step writer (delay)", "longest step peer (delay)", "longest GC writer / peer", "heap per element writer / peer", "update()", "hash per change", "full rehash (baseline)", "baseline / now", "first digest (sliced)"],
        [
          [
            short(b.elements),
            `${ms(b.stepCpuMs.writer)} (${ms(b.maxStallMs.writer)})`,
            `${ms(b.stepCpuMs.peer)} (${ms(b.maxStallMs.peer)})`,
            b.maxGcMs === undefined ? "—" : `${ms(b.maxGcMs.writer)} / ${ms(b.maxGcMs.peer)}`,
            b.heapBytesPerElement === undefined ? "—" : `${Math.round(b.heapBytesPerElement.writer)} B / ${Math.round(b.heapBytesPerElement.peer)} B`,
            ms(b.updateMs),
            ms(b.incrementalHashMs),
            ms(b.fullRehashMs),
            `${Math.round(b.speedup)}×`,
            ms(b.firstDigestMs),
          ],
        ],
      ),
    );
    out.push("");
  }
  if (s.nodes) {
    const n = s.nodes;
    out.push("## 12. Node count (3 → 12 processes)");
    out.push("");
    out.push(
      `One writer at ${n.rows[0]?.rate ?? "?"}/s to N − 1 peers, each a process, against raw NATS fan-out from the same writer process to the same N − 1 processes with messages of our envelope's size, same run. Bytes per update: every process's NATS socket, written + read, during the measured run (heartbeats and anti-entropy included) ÷ updates. Latencies in ms.`,
    );
    out.push("");
    out.push(
      table(
        ["processes", "ours p50", "p90", "p99", "max", "raw p50", "p90", "p99", "max", "ours/raw p50", "p99", "max", "bytes/update ours", "raw", "ours/raw"],
        n.rows.map((r) => [r.nodes, ...lat(r.ours), ...lat(r.raw), x(r.ratio.p50), x(r.ratio.p99), x(r.ratio.max), r.bytesPerUpdate.ours.toFixed(0), r.bytesPerUpdate.raw.toFixed(0), x(r.ratio.bytes)]),
      ),
    );
    out.push("", `Growth from ${n.rows[0]?.nodes} to ${n.rows[n.rows.length - 1]?.nodes} processes (ratio at the largest N ÷ ratio at the smallest): p50 ${x(n.growth.p50)}, p99 ${x(n.growth.p99)}, bytes ${x(n.growth.bytes)}.`, "");
  }
  if (s.swarm) {
    const w = s.swarm;
    const kb = (v: number): string => `${(v / 1024).toFixed(2)} KB/s`;
    out.push(`## 13. ${w.nodes} nodes in memory`);
    out.push("");
    out.push(
      `${w.nodes} replicators on the in-memory bus in virtual time, default intervals (heartbeat 1 s, anti-entropy 30 s); ${w.keys.toLocaleString("en")} GCounter keys on every node, then ${w.seconds} s idle. Per node (median), bytes per second of payload plus subject as the bus carries them (no NATS framing). Formed after ${w.formedSeconds.toFixed(0)} s of virtual time; ${w.antiEntropyRounds} anti-entropy rounds in the window; simulated in ${w.wallSeconds.toFixed(0)} s of wall time.`,
    );
    out.push("");
    out.push(
      table(
        ["traffic per node", "sent", "received"],
        [
          ["heartbeats and membership", kb(w.perNode.heartbeat.sent), kb(w.perNode.heartbeat.received)],
          ["anti-entropy", kb(w.perNode.antiEntropy.sent), kb(w.perNode.antiEntropy.received)],
          ["deltas", kb(w.perNode.deltas.sent), kb(w.perNode.deltas.received)],
          ["busiest node, all received", "", kb(w.maxReceivedPerSecond)],
        ],
      ),
    );
    out.push("");
  }
  if (s.locks) out.push(...renderLocks(s.locks));
  if (s.queue) out.push(...renderQueue(s.queue));
  if (s.huge) out.push(...renderHuge(s.huge));
  return { markdown: out.join("\n"), svgs };
}

/** Write `<timestamp>.json` and, with `latest`, `latest.json`, `latest.md` and the SVGs; returns the JSON path. */
export function writeResults(dir: string, r: BenchResults, latest = true): string {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, "-");
  const json = JSON.stringify(r, null, 2);
  const file = join(dir, `${stamp}.json`);
  writeFileSync(file, json);
  if (!latest) return file;
  writeFileSync(join(dir, "latest.json"), json);
  const { markdown, svgs } = render(r);
  writeFileSync(join(dir, "latest.md"), markdown);
  for (const [name, svg] of Object.entries(svgs)) writeFileSync(join(dir, name), svg);
  return file;
}
