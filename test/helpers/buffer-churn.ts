/**
 * Child process of test/gc-tuning.test.ts: allocates `MB` MiB of 1 MiB Buffers that die at once
 * (as envelopes and catch-up pages do), after `tuneGarbageCollection()` when argv[2] is "tuned",
 * and prints how many of the collections meanwhile were full mark-compacts, as JSON.
 */
import { GCProfiler } from "node:v8";
import { tuneGarbageCollection } from "../../src/gc-tuning.js";

const tuned = process.argv[2] === "tuned" ? tuneGarbageCollection() : false;
const megabytes = Number(process.env["MB"] ?? 512);
const profiler = new GCProfiler();
profiler.start();
let checksum = 0;
for (let i = 0; i < megabytes; i++) {
  const b = Buffer.allocUnsafe(1 << 20);
  b.fill(i & 0xff);
  checksum += b[i % b.length]!;
  // Yield now and then so V8's GC tasks run, as they do between a node's messages.
  if (i % 8 === 7) await new Promise<void>((resolve) => setImmediate(resolve));
}
const { statistics } = profiler.stop();
const markCompacts = statistics.filter((s) => s.gcType === "MarkSweepCompact").length;
console.log(JSON.stringify({ tuned, markCompacts, collections: statistics.length, checksum }));
