/**
 * Codec benchmark: protobufjs reflection (from src/wire/gen/descriptor.ts) vs ts-proto's generated
 * code (gen/crdt.ts), same schema, same inputs; plus the library codec (src/wire) end to
 * end, and the cost of a content hash.
 *
 *   npx tsx bench/codec.ts            table + JSON on stdout
 *   npx tsx bench/codec.ts --json     JSON only
 *   BENCH_QUICK=1 npx tsx bench/codec.ts   shorter runs
 *
 * One operation = encode + decode. For an ORMap-family state the nested value states are encoded
 * and decoded too; for an envelope, every delta's state too (each library with its own code), i.e.
 * the work the receive path really does. Inputs are built by operations on the data types and
 * converted once, outside the timed loops, to each library's in-memory shape (ts-proto: bigint
 * for 64-bit fields; protobufjs: numbers). Each figure is the median of `repetitions` timed runs
 * after a warm-up; the libraries are measured alternately in every repetition.
 *
 * Columns: protobufjs/s, ts-proto/s, their ratio, then the library codec: `wire/s` =
 * encodeState + decodeState (plain state ↔ bytes with wire checks), `value/s` = encodeValue +
 * decodeValue (Crdt ↔ bytes: toState + the data type's validating fromState), or for the envelope
 * encodeDeltaEnvelope + decodeDeltaEnvelope.
 */
import type { Type } from "protobufjs";
import protobuf from "protobufjs/light.js";
import { pathToFileURL } from "node:url";
import {
  Flag,
  GCounter,
  GSet,
  LWWMap,
  LWWRegister,
  MVRegister,
  ORMap,
  ORSet,
  PNCounter,
  PNCounterMap,
  type AnyState,
  type Crdt,
  type DataKind,
  type ORMapState,
} from "../src/crdt/index.js";
import { DATA_TYPES } from "../src/crdt/registry.js";
import { mulberry32 } from "../src/transport/memory.js";
import {
  contentHash,
  contentHashOfEncoded,
  type CrdtDelta,
  dataTypeOf,
  decodeDeltaEnvelope,
  decodeState,
  decodeValue,
  type DeltaEnvelope,
  encodeDeltaEnvelope,
  encodeState,
  encodeValue,
  isMapKind,
  kindOf,
} from "../src/wire/codec.js";
import { descriptor } from "../src/wire/gen/descriptor.js";
import * as G from "../gen/crdt.js";

// ================================================================== options & result

export interface CodecBenchOptions {
  /** Timed repetitions per case and library (median taken). Default 5 (≥ 3 enforced). */
  repetitions?: number;
  /** Minimum duration of one timed repetition, ms. Default 200 (BENCH_QUICK: 60). */
  minTimeMs?: number;
  /** Warm-up per case and library, ms. Default 300 (BENCH_QUICK: 100). */
  warmupMs?: number;
  /** Only cases whose name contains this string. */
  filter?: string;
}

export interface CodecBenchRow {
  case: string;
  /** Encoded size of the measured message (protobufjs; ts-proto's is identical, checked). */
  bytes: number;
  /** encode+decode per second. */
  protobufjs: number;
  tsProto: number;
  /** protobufjs / tsProto. */
  ratio: number;
  /** Library codec, plain state level (encodeState+decodeState); null for the envelopes. */
  wire: number | null;
  /** Library codec, Crdt level (encodeValue+decodeValue, or encode/decodeDeltaEnvelope). */
  value: number;
}

export interface HashBenchRow {
  case: string;
  bytes: number;
  /** Hashes per second, uncached (encode + SHA-256). */
  perSecond: number;
  microseconds: number;
  /** contentHash() per second on the same value object (memoized). */
  cachedPerSecond: number;
}

export interface CodecBenchResult {
  node: string;
  repetitions: number;
  minTimeMs: number;
  rows: CodecBenchRow[];
  hashes: HashBenchRow[];
  /** The faster library for the hot path (envelope + CRDTDelta + states), by geometric mean of the ratios. */
  faster: "protobufjs" | "ts-proto";
  geometricMeanRatio: number;
}

// ================================================================== inputs

/** Deterministic inputs, so every run measures the same ones. */
const rng = mulberry32;

const NODES = ["node-a", "node-b", "node-c", "node-d", "node-e"];
const TS = 1_760_000_000_000;

interface Case {
  name: string;
  kind: DataKind;
  value: Crdt;
}

function cases(): Case[] {
  const r = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Case[] = [];
  const add = (name: string, value: Crdt | undefined): void => {
    if (value === undefined) throw new Error(`bench input ${name} has no delta`);
    out.push({ name, kind: value.kind, value });
  };

  // counters
  add("gcounter delta", GCounter.empty().increment("node-a", 5).delta);
  let gc = GCounter.empty();
  for (let i = 0; i < 50; i++) gc = gc.increment(`node-${String(i).padStart(2, "0")}`, 1 + Math.floor(r() * 1e6));
  add("gcounter 50 nodes", gc.resetDelta());
  add("pncounter delta", PNCounter.empty().increment("node-a", 5).delta);
  let pn = PNCounter.empty();
  for (let i = 0; i < 50; i++) {
    const n = `node-${String(i).padStart(2, "0")}`;
    pn = pn.increment(n, 1 + Math.floor(r() * 1e6)).decrement(n, 1 + Math.floor(r() * 1e5));
  }
  add("pncounter 50 nodes", pn.resetDelta());

  // sets
  add("gset delta", GSet.empty<string>().add("node-a", "user-1234").delta);
  let gs = GSet.empty<string>();
  for (let i = 0; i < 100; i++) gs = gs.add("node-a", `user-${i}-${Math.floor(r() * 1e6)}`);
  add("gset 100", gs.resetDelta());
  let os = ORSet.empty<string>();
  for (let i = 0; i < 120; i++) os = os.add(pick(NODES), `user-${i}-${Math.floor(r() * 1e6)}`);
  for (let i = 0; i < 20; i++) os = os.remove(os.elements[Math.floor(r() * os.size)]!);
  os = os.resetDelta();
  add("orset delta", os.add("node-c", "user-new").delta);
  add(`orset ${os.size}`, os);

  // registers
  add("lwwRegister delta", LWWRegister.empty<string>().set("node-a", "hello world", TS).delta);
  const doc: Record<string, unknown> = {};
  for (let i = 0; i < 25; i++) doc[`field${i}`] = { n: i, s: `text ${Math.floor(r() * 1e9)}`, ok: i % 2 === 0 };
  add("lwwRegister 1KB", LWWRegister.empty().set("node-a", doc as never, TS).resetDelta());
  add("mvRegister delta", MVRegister.empty<string>().set("node-a", "hello world").delta);
  let mv = MVRegister.empty<string>();
  const concurrent = NODES.map((n, i) => MVRegister.empty<string>().set(n, `value of ${n} ${i}`));
  for (const c of concurrent) mv = mv.merge(c);
  add("mvRegister 5 concurrent", mv.resetDelta());
  add("flag delta", Flag.empty().enable("node-a").delta);

  // maps
  add("lwwMap delta", LWWMap.empty<string, string>().put("node-a", "session-1", "active", TS).delta);
  let lm = LWWMap.empty<string, string>();
  for (let i = 0; i < 100; i++) lm = lm.put(pick(NODES), `session-${i}`, `state-${Math.floor(r() * 1e6)}`, TS + i);
  add("lwwMap 100", lm.resetDelta());
  const orAdd = (m: ORMap<ORSet<string>, string>, node: string, key: string, el: string) => m.update(node, key, (s, n) => s.add(n, el));
  add("orMap(orset) delta", orAdd(ORMap.empty<ORSet<string>, string>("orset"), "node-a", "room-1", "alice").delta);
  let om = ORMap.empty<ORSet<string>, string>("orset");
  for (let k = 0; k < 50; k++) for (let e = 0; e < 5; e++) om = orAdd(om, pick(NODES), `room-${k}`, `user-${Math.floor(r() * 1e6)}`);
  add("orMap(orset) 50x5", om.resetDelta());
  add("pncounterMap delta", PNCounterMap.empty<string>().increment("node-a", "page-1", 3).delta);
  let pm = PNCounterMap.empty<string>();
  for (let i = 0; i < 100; i++) pm = pm.increment(pick(NODES), `page-${i}`, 1 + Math.floor(r() * 1000));
  add("pncounterMap 100", pm.resetDelta());
  return out;
}

// ================================================================== per-library codecs

type Native = Record<string, unknown>;

/** One library's view: state/envelope ↔ bytes, nested values included. */
interface Lib {
  /** Converts a plain state to this library's in-memory message (nested map values as native trees). */
  prepare(kind: DataKind, state: AnyState): Native;
  encodeState(kind: DataKind, native: Native): Uint8Array;
  decodeState(kind: DataKind, bytes: Uint8Array): unknown;
  encodeEnvelope(native: Native): Uint8Array;
  decodeEnvelope(bytes: Uint8Array): unknown;
}

// --- protobufjs (reflection from the embedded descriptor)

const root = protobuf.Root.fromJSON(descriptor);
const pbType = (n: string): Type => root.lookupType(`crdt.v1.${n}`);
// Per kind, from the descriptors (a new data type needs no entry here).
const PB_STATE = Object.fromEntries(DATA_TYPES.map((t) => [t.kind, pbType(t.stateMessage)])) as Record<DataKind, Type>;
const PB_ENVELOPE = pbType("DeltaEnvelope");

interface NativeMap {
  valueType: number;
  keys: unknown;
  values: { key: string; dot: G.Dot | undefined; value: Native }[];
  valueKind: DataKind;
}

const pbjs: Lib = {
  prepare(kind, state) {
    if (!isMapKind(kind)) return state as unknown as Native;
    const s = state as ORMapState;
    return {
      valueType: dataTypeOf(s.valueKind),
      valueKind: s.valueKind,
      keys: s.keys,
      values: s.values.map((e) => ({ key: e.key, dot: e.dot as G.Dot | undefined, value: pbjs.prepare(s.valueKind, e.value) })),
    };
  },
  encodeState(kind, native) {
    if (!isMapKind(kind)) return PB_STATE[kind].encode(native).finish();
    const m = native as unknown as NativeMap;
    const values = m.values.map((e) => ({ key: e.key, dot: e.dot, value: pbjs.encodeState(m.valueKind, e.value) }));
    return PB_STATE[kind].encode({ valueType: m.valueType, keys: m.keys, values }).finish();
  },
  decodeState(kind, bytes) {
    const m = PB_STATE[kind].decode(bytes) as unknown as { valueType: number; values: { value: Uint8Array }[] };
    if (isMapKind(kind)) {
      const vk = kindOf(m.valueType);
      for (const e of m.values) pbjs.decodeState(vk, e.value);
    }
    return m;
  },
  encodeEnvelope(native) {
    const deltas = (native["deltas"] as Native[]).map((d) => ({ ...d, data: pbjs.encodeState(d["kind"] as DataKind, d["data"] as Native) }));
    return PB_ENVELOPE.encode({ ...native, deltas }).finish();
  },
  decodeEnvelope(bytes) {
    const e = PB_ENVELOPE.decode(bytes) as unknown as { deltas: { dataType: number; data: Uint8Array }[] };
    for (const d of e.deltas) pbjs.decodeState(kindOf(d.dataType), d.data);
    return e;
  },
};

// --- ts-proto (generated code)

interface TsFns {
  encode(message: never): { finish(): Uint8Array };
  decode(input: Uint8Array): unknown;
}
const TS_STATE = Object.fromEntries(DATA_TYPES.map((t) => [t.kind, (G as unknown as Record<string, TsFns>)[t.stateMessage]!])) as Record<DataKind, TsFns>;

/** 64-bit fields become bigint (forceLong=bigint); everything else is already ts-proto's shape. */
function toTs(x: unknown, key = ""): unknown {
  if (Array.isArray(x)) return x.map((v) => toTs(v));
  if (typeof x === "number" && (key === "value" || key === "counter" || key === "timestamp")) return BigInt(x);
  if (x !== null && typeof x === "object" && !(x instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = toTs(v, k);
    return out;
  }
  return x;
}

function tsBase(kind: DataKind, native: Native): Native {
  // ts-proto's encoders expect every sub-message field present or undefined.
  if (kind === "lwwRegister" && native["value"] === undefined) return { ...native, value: undefined };
  return native;
}

const tsproto: Lib = {
  prepare(kind, state) {
    if (!isMapKind(kind)) return tsBase(kind, toTs(state) as Native);
    const s = state as ORMapState;
    return {
      valueType: dataTypeOf(s.valueKind),
      valueKind: s.valueKind,
      keys: toTs(s.keys),
      values: s.values.map((e) => ({ key: e.key, dot: toTs(e.dot) as G.Dot | undefined, value: tsproto.prepare(s.valueKind, e.value) })),
    };
  },
  encodeState(kind, native) {
    if (!isMapKind(kind)) return TS_STATE[kind].encode(native as never).finish();
    const m = native as unknown as NativeMap;
    const values = m.values.map((e) => ({ key: e.key, dot: e.dot, value: tsproto.encodeState(m.valueKind, e.value) }));
    return G.ORMapState.encode({ valueType: m.valueType, keys: m.keys as G.ORSetState, values }).finish();
  },
  decodeState(kind, bytes) {
    const m = TS_STATE[kind].decode(bytes) as { valueType: number; values: { value: Uint8Array }[] };
    if (isMapKind(kind)) {
      const vk = kindOf(m.valueType);
      for (const e of m.values) tsproto.decodeState(vk, e.value);
    }
    return m;
  },
  encodeEnvelope(native) {
    const deltas = (native["deltas"] as Native[]).map((d) => ({
      key: d["key"] as string,
      dataType: d["dataType"] as number,
      originNode: d["originNode"] as string,
      data: tsproto.encodeState(d["kind"] as DataKind, d["data"] as Native),
    }));
    // ts-proto writes a string field unless it is "": an absent `writer` (the full form) is "" there.
    return G.DeltaEnvelope.encode({ ...(native as unknown as G.DeltaEnvelope), writer: (native["writer"] as string | undefined) ?? "", deltas }).finish();
  },
  decodeEnvelope(bytes) {
    const e = G.DeltaEnvelope.decode(bytes);
    for (const d of e.deltas) tsproto.decodeState(kindOf(d.dataType), d.data);
    return e;
  },
};

function envelopeNative(lib: Lib, deltas: CrdtDelta[], bigints: boolean): Native {
  const n = (x: number): number | bigint => (bigints ? BigInt(x) : x);
  return {
    origin: "node-a",
    incarnation: n(TS - 5000),
    sequence: n(123456),
    deltas: deltas.map((d) => ({
      key: d.key,
      dataType: dataTypeOf(d.kind),
      originNode: d.originNode === "node-a" ? "" : d.originNode, // as the library: implied by the envelope
      kind: d.kind,
      data: lib.prepare(d.kind, d.value.toState()),
    })),
    tombstones: [],
    sentAfterUs: n(5_000_250), // sent 5000.25 ms after the incarnation
    sentBeforeUs: n(0),
    chunk: undefined,
  };
}

// ================================================================== timing

let sink = 0;

function consume(x: unknown): void {
  if (x === undefined || x === null) sink++;
}

/** Runs `fn` for about `ms` milliseconds; returns operations per second. */
function runFor(fn: () => void, ms: number): number {
  let batch = 1;
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    now = performance.now();
    if (now - start < ms / 20) batch *= 2;
  }
  return (n * 1000) / (now - start);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median rate of each function, measured alternately (repetition by repetition) after warm-up. */
function measure(fns: readonly (() => void)[], opts: Required<Omit<CodecBenchOptions, "filter">>): number[] {
  for (const fn of fns) runFor(fn, opts.warmupMs);
  const rates = fns.map(() => [] as number[]);
  for (let r = 0; r < opts.repetitions; r++) fns.forEach((fn, i) => rates[i]!.push(runFor(fn, opts.minTimeMs)));
  return rates.map(median);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ================================================================== the bench

export function runCodecBench(options: CodecBenchOptions = {}): CodecBenchResult {
  const quick = process.env["BENCH_QUICK"] === "1";
  const opts = {
    repetitions: Math.max(3, options.repetitions ?? 5),
    minTimeMs: options.minTimeMs ?? (quick ? 60 : 200),
    warmupMs: options.warmupMs ?? (quick ? 100 : 300),
  };
  const selected = (name: string): boolean => options.filter === undefined || name.includes(options.filter);
  const rows: CodecBenchRow[] = [];
  const all = cases();

  for (const c of all) {
    if (!selected(c.name)) continue;
    const state = c.value.toState();
    const pbNative = pbjs.prepare(c.kind, state);
    const tsNative = tsproto.prepare(c.kind, state);
    const pbBytes = pbjs.encodeState(c.kind, pbNative);
    const tsBytes = tsproto.encodeState(c.kind, tsNative);
    if (!sameBytes(pbBytes, tsBytes)) throw new Error(`${c.name}: protobufjs and ts-proto encode differently`);
    if (!sameBytes(pbBytes, encodeValue(c.value))) throw new Error(`${c.name}: the library codec encodes differently`);
    const [pb, ts, wire, value] = measure(
      [
        () => consume(pbjs.decodeState(c.kind, pbjs.encodeState(c.kind, pbNative))),
        () => consume(tsproto.decodeState(c.kind, tsproto.encodeState(c.kind, tsNative))),
        () => consume(decodeState(c.kind, encodeState(c.kind, state))),
        () => consume(decodeValue(c.kind, encodeValue(c.value))),
      ],
      opts,
    );
    rows.push({ case: c.name, bytes: pbBytes.length, protobufjs: pb!, tsProto: ts!, ratio: pb! / ts!, wire: wire!, value: value! });
  }

  // Envelopes: one small delta (the common case: a counter bump), and 50 small deltas of every type.
  const smallDeltas = all.filter((c) => c.name.endsWith(" delta"));
  const toDelta = (c: Case, i: number): CrdtDelta => ({ key: `key-${i}-${c.kind}`, kind: c.kind, originNode: "node-a", value: c.value });
  const envelopes: [string, CrdtDelta[]][] = [
    ["envelope 1 delta", [toDelta(smallDeltas[0]!, 0)]],
    ["envelope 50 deltas", Array.from({ length: 50 }, (_, i) => toDelta(smallDeltas[i % smallDeltas.length]!, i))],
  ];
  for (const [name, deltas] of envelopes) {
    if (!selected(name)) continue;
    const pbNative = envelopeNative(pbjs, deltas, false);
    const tsNative = envelopeNative(tsproto, deltas, true);
    const env: DeltaEnvelope = {
      origin: "node-a",
      incarnation: TS - 5000,
      sequence: 123456,
      deltas,
      tombstones: [],
      sentAtMs: TS + 0.25,
    };
    const pbBytes = pbjs.encodeEnvelope(pbNative);
    if (!sameBytes(pbBytes, tsproto.encodeEnvelope(tsNative))) throw new Error(`${name}: protobufjs and ts-proto encode differently`);
    if (!sameBytes(pbBytes, encodeDeltaEnvelope(env))) throw new Error(`${name}: the library codec encodes differently`);
    const [pb, ts, value] = measure(
      [
        () => consume(pbjs.decodeEnvelope(pbjs.encodeEnvelope(pbNative))),
        () => consume(tsproto.decodeEnvelope(tsproto.encodeEnvelope(tsNative))),
        () => consume(decodeDeltaEnvelope(encodeDeltaEnvelope(env))),
      ],
      opts,
    );
    rows.push({ case: name, bytes: pbBytes.length, protobufjs: pb!, tsProto: ts!, ratio: pb! / ts!, wire: null, value: value! });
  }

  // Content hashes.
  const hashes: HashBenchRow[] = [];
  for (const c of all) {
    if (!(c.name === "gcounter delta" || c.name.startsWith("orset 1") || c.name === "lwwMap 100" || c.name === "orset delta")) continue;
    if (!selected(c.name)) continue;
    // Uncached (contentHash memoizes per value object): encode + SHA-256 every time.
    const [rate, cached] = measure([() => consume(contentHashOfEncoded(c.kind, encodeValue(c.value))), () => consume(contentHash(c.value))], opts);
    hashes.push({ case: c.name, bytes: encodeValue(c.value).length, perSecond: rate!, microseconds: 1e6 / rate!, cachedPerSecond: cached! });
  }

  const gm = rows.length === 0 ? 1 : Math.exp(rows.reduce((s, r) => s + Math.log(r.ratio), 0) / rows.length);
  if (sink < 0) console.log(sink);
  return {
    node: process.version,
    repetitions: opts.repetitions,
    minTimeMs: opts.minTimeMs,
    rows,
    hashes,
    faster: gm >= 1 ? "protobufjs" : "ts-proto",
    geometricMeanRatio: gm,
  };
}

// ================================================================== printing

function k(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

export function formatCodecBench(r: CodecBenchResult): string {
  const header = ["case", "bytes", "protobufjs/s", "ts-proto/s", "pbjs÷ts", "wire/s", "value/s"];
  const lines = r.rows.map((x) => [x.case, String(x.bytes), k(x.protobufjs), k(x.tsProto), x.ratio.toFixed(2) + "×", x.wire === null ? "—" : k(x.wire), k(x.value)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]): string => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [
    `codec bench (${r.node}; encode+decode per second, median of ${r.repetitions} × ${r.minTimeMs} ms)`,
    fmt(header),
    fmt(widths.map((w) => "-".repeat(w))),
    ...lines.map(fmt),
    `faster for the hot path: ${r.faster} (geometric mean ratio ${r.geometricMeanRatio.toFixed(2)}×)`,
    "",
    "contentHash (encode + SHA-256 cut to 64 bits; memoized per value object after the first call):",
    ...r.hashes.map(
      (h) => `  ${h.case.padEnd(20)} ${String(h.bytes).padStart(6)} B  ${k(h.perSecond).padStart(7)}/s  ${h.microseconds.toFixed(2).padStart(7)} µs   cached ${k(h.cachedPerSecond)}/s`,
    ),
  ];
  return out.join("\n");
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const result = runCodecBench();
  if (!process.argv.includes("--json")) console.log(formatCodecBench(result) + "\n");
  console.log(JSON.stringify(result));
}
