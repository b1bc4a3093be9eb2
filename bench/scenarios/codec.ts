/**
 * 6. Codec: encode + decode per second per data type (and envelope), from the codec
 * bench (bench/codec.ts), run in its own worker process. One operation = encode + decode; the
 * library codec (`value/s`: Crdt ↔ bytes with validation) is the figure that matters, protobufjs
 * and ts-proto alone are shown for reference.
 */
import type { CodecBenchResult } from "../codec.js";
import type { BenchContext } from "../lib/context.js";

export type CodecResult = CodecBenchResult;

export const codecWorker = {
  "codec.run": async (a: { full: boolean }) => {
    const { runCodecBench } = await import("../codec.js");
    return runCodecBench(a.full ? { repetitions: 5 } : { repetitions: 3, minTimeMs: 50, warmupMs: 60 });
  },
};

export async function runCodec(ctx: BenchContext): Promise<CodecResult> {
  ctx.progress.step("codec bench (bench/codec.ts) in a worker", ctx.full ? 60_000 : 18_000);
  const [w] = await ctx.workers(["codec"]);
  const r = await w!.call<CodecResult>("codec.run", { full: ctx.full });
  await ctx.release(w!);
  const env = r.rows.find((x) => x.case === "envelope 1 delta");
  ctx.progress.note(`codec: ${r.rows.length} cases; envelope with 1 delta ${Math.round(env?.value ?? 0)}/s encode+decode`);
  return r;
}
