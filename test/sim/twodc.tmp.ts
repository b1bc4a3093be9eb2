import { runTwoDcSchedule } from "./two-dcs.js";
const [from, count] = [Number(process.argv[2]), Number(process.argv[3])];
const failed: string[] = [];
for (let i = 0; i < count; i++) {
  const seed = from + 20 * i;
  const r = await runTwoDcSchedule(seed, {});
  if (r.failures.length > 0) { failed.push(`${seed}: ${r.failures.join("; ")}`); console.log(seed, r.failures.join("; ")); }
}
console.log(`done ${count}, failed ${failed.length}`);
