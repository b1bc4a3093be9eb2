/**
 * Seeded fault schedules over the in-memory bus in virtual time (see test/sim/):
 *   npm run sim -- --schedules 10000          (seeds 20240611 … 20250610)
 *   npm run sim -- --seed 20240700 --schedules 1 --trace
 *   npm run sim -- --two-dc --seed 20310000 --schedules 250   (two-DC schedules only)
 * Prints a summary; exits 1 when a schedule failed, listing each failing seed with its replay command.
 */
import { Command, InvalidArgumentError } from "commander";
import { DEFAULT_SEED, describeFailure, formatSummary, runSchedules } from "../test/sim/run.js";

const integer = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("a non-negative integer");
  return n;
};

const program = new Command("sim")
  .option("--schedules <n>", "how many schedules (seeds seed, seed + 1, …)", integer, 10_000)
  .option("--seed <s>", "first seed", integer, DEFAULT_SEED)
  .option("--trace", "print every step of each schedule (for replaying one seed)", false)
  .option("--two-dc", "only two-data-center schedules (the seeds from --seed on that run one, one in twenty)", false)
  .parse();
const { schedules, seed, trace, twoDc } = program.opts<{ schedules: number; seed: number; trace: boolean; twoDc: boolean }>();

const summary = await runSchedules(seed, schedules, {
  twoDcOnly: twoDc,
  ...(trace ? { trace: (line: string) => console.log(line) } : {}),
  onResult: (r, done) => {
    if (r.failures.length > 0) console.log(describeFailure(r));
    if (done % 500 === 0 && done < schedules) console.log(`… ${done} schedules`);
  },
});
console.log(formatSummary(summary));
process.exitCode = summary.failed.length > 0 ? 1 : 0;
