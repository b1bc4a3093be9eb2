/**
 * The fault schedule of a chaos run: a pure function of the seed and the run's shape, so one seed
 * replays the same faults at the same offsets. Every fault is bounded (it undoes itself after
 * `durationMs`); nothing starts after `durationMs - healMs`, so the tail of the run is a heal phase.
 *
 * Constraints keep the cluster interesting rather than dead: at most two nodes under a node or link
 * fault at once (three of five always run), one broker-side fault (broker kill/hang or route
 * partition) at a time, never two faults on the same node or broker at once.
 */
import { mulberry32 } from "../src/transport/memory.js";

export const NODE_FAULTS = ["kill", "kill-wipe", "restart", "pause", "link-reset", "link-blackhole"] as const;
export const BROKER_FAULTS = ["broker-kill", "broker-pause", "partition"] as const;
export type NodeFaultKind = (typeof NODE_FAULTS)[number];
export type BrokerFaultKind = (typeof BROKER_FAULTS)[number];
export type FaultKind = NodeFaultKind | BrokerFaultKind;

/** Faults that end with a restart of the node process (and may give it a new clock offset). */
export const RESTARTS: readonly FaultKind[] = ["kill", "kill-wipe", "restart"];

export interface ScheduledFault {
  /** Offset from the start of the run, ms. */
  at: number;
  kind: FaultKind;
  /** Node index for node faults, broker index for broker faults; for a partition the lone broker. */
  target: number;
  durationMs: number;
  /** Restarts only: the clock offset the node restarts with, when it changes. */
  clockOffsetMs?: number;
}

export interface Schedule {
  seed: number;
  /** Clock offset of each node's first start, ms. */
  initialClockOffsetsMs: number[];
  faults: ScheduledFault[];
}

export interface ScheduleShape {
  seed: number;
  durationMs: number;
  nodes: number;
  brokers: number;
  /** Quiet start, so the cluster forms before the first fault (default 5 s). */
  warmupMs?: number;
  /** Fault-free tail of the run (default 20 s). */
  healMs?: number;
  /** Mean gap between fault starts (default 3 s). */
  meanGapMs?: number;
}

/** Relative weight of each kind: node faults dominate, as nodes are where acknowledgements happen. */
const WEIGHTS: Record<FaultKind, number> = {
  kill: 3,
  "kill-wipe": 2,
  restart: 1,
  pause: 2,
  "link-reset": 2,
  "link-blackhole": 2,
  "broker-kill": 1,
  "broker-pause": 1,
  partition: 2,
};
/** At most this many nodes under a node or link fault at once. */
export const MAX_NODES_FAULTED = 2;
/** ±20 s: two nodes differ by at most 40 s, inside the replicator's default maxClockSkewMs (60 s). */
const MAX_CLOCK_OFFSET_MS = 20_000;

export function generateSchedule(shape: ScheduleShape): Schedule {
  const random = mulberry32(shape.seed);
  const between = (lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const offset = (): number => between(-MAX_CLOCK_OFFSET_MS, MAX_CLOCK_OFFSET_MS);

  const warmupMs = shape.warmupMs ?? 5_000;
  const lastStart = shape.durationMs - (shape.healMs ?? 20_000);
  const meanGapMs = shape.meanGapMs ?? 3_000;
  const kinds = Object.keys(WEIGHTS) as FaultKind[];
  const totalWeight = kinds.reduce((s, k) => s + WEIGHTS[k], 0);
  const weightedKind = (): FaultKind => {
    let r = random() * totalWeight;
    for (const k of kinds) if ((r -= WEIGHTS[k]) < 0) return k;
    return kinds[kinds.length - 1]!;
  };

  // Node 0 keeps the true clock: offsets are relative to someone.
  const initialClockOffsetsMs = Array.from({ length: shape.nodes }, (_, i) => (i === 0 ? 0 : offset()));
  const faults: ScheduledFault[] = [];
  const nodeBusyUntil = new Array<number>(shape.nodes).fill(0);
  let brokerSideBusyUntil = 0;

  for (let at = warmupMs + between(0, meanGapMs); at < lastStart; at += Math.max(300, Math.round(-Math.log(1 - random()) * meanGapMs))) {
    const kind = weightedKind();
    const durationMs = Math.min(between(1_000, 8_000), lastStart - at);
    if (durationMs < 500) continue;
    if ((BROKER_FAULTS as readonly string[]).includes(kind)) {
      if (brokerSideBusyUntil > at) continue;
      brokerSideBusyUntil = at + durationMs;
      faults.push({ at, kind, target: between(0, shape.brokers - 1), durationMs });
      continue;
    }
    const free = nodeBusyUntil.map((until, i) => (until <= at ? i : -1)).filter((i) => i >= 0);
    if (shape.nodes - free.length >= MAX_NODES_FAULTED || free.length === 0) continue;
    const target = pick(free);
    nodeBusyUntil[target] = at + durationMs;
    const fault: ScheduledFault = { at, kind, target, durationMs };
    if (RESTARTS.includes(kind) && random() < 0.5) fault.clockOffsetMs = offset();
    faults.push(fault);
  }
  return { seed: shape.seed, initialClockOffsetsMs, faults };
}
