/**
 * Compare this checkout with another commit in one run: `npm run bench:compare -- --against <ref>`.
 *
 *   npm run bench:compare -- --against HEAD~5 --only convergence,throughput --rounds 2
 *
 * Checks `<ref>` out in a temporary git worktree (sharing this node_modules), then runs the quick
 * bench alternately in each tree (`--rounds` times; alternating spreads a machine's drift over
 * both) and prints every headline figure of both with the ratio this/ref. The worktree is removed
 * at the end. "Same run" matters on a shared machine: figures from different hours are not comparable.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Leaf names that are headline figures (rates, latencies, sizes); per-run samples are skipped. */
const HEADLINE = /^(perSecond|perNodePerSecond|minPerNodePerSecond|convergeMs|p50|p99|mean|ratio|bytesPerUpdate|bytes|ms|opsPerSecond)$/;

interface Args {
  against: string;
  only: string;
  rounds: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { against: "", only: "convergence,throughput", rounds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--against") args.against = value();
    else if (flag === "--only") args.only = value();
    else if (flag === "--rounds") args.rounds = Math.max(1, Number.parseInt(value(), 10) || 1);
    else throw new Error(`unknown argument ${flag}; usage: bench:compare -- --against <ref> [--only a,b] [--rounds N]`);
  }
  if (args.against === "") throw new Error("--against <git ref> is required (the commit to compare with)");
  return args;
}

/** Runs the bench in `tree`; resolves with the scenarios of its result file. */
function runBench(tree: string, only: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let stderr = "";
    const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", "--only", only], { cwd: tree, stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on("exit", (code) => {
      const file = /results: (\S+)/.exec(stderr)?.[1];
      if (code !== 0 || file === undefined) return reject(new Error(`bench in ${tree} failed (exit ${code})`));
      resolve((JSON.parse(readFileSync(file, "utf8")) as { scenarios: Record<string, unknown> }).scenarios);
    });
  });
}

/** Headline numbers of a result, by path (`throughput.local.hot.perSecond`, `convergence.rows[0].p50`). */
function headlines(value: unknown, path = "", out = new Map<string, number>()): Map<string, number> {
  if (Array.isArray(value)) value.forEach((v, i) => headlines(v, `${path}[${i}]`, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) if (k !== "runs") headlines(v, path === "" ? k : `${path}.${k}`, out);
  } else if (typeof value === "number" && HEADLINE.test(path.slice(path.lastIndexOf(".") + 1))) out.set(path, value);
  return out;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const commit = execFileSync("git", ["rev-parse", "--short", args.against], { cwd: ROOT, encoding: "utf8" }).trim();
  const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  const other = join(mkdtempSync(join(tmpdir(), "bench-compare-")), commit);
  execFileSync("git", ["worktree", "add", "--detach", other, commit], { cwd: ROOT, stdio: "ignore" });
  symlinkSync(join(ROOT, "node_modules"), join(other, "node_modules"));
  const figures = { this: new Map<string, number[]>(), ref: new Map<string, number[]>() };
  const add = (into: Map<string, number[]>, scenarios: Record<string, unknown>): void => {
    for (const [k, v] of headlines(scenarios)) into.set(k, [...(into.get(k) ?? []), v]);
  };
  try {
    for (let round = 0; round < args.rounds; round++) {
      add(figures.ref, await runBench(other, args.only));
      add(figures.this, await runBench(ROOT, args.only));
    }
  } finally {
    execFileSync("git", ["worktree", "remove", "--force", other], { cwd: ROOT, stdio: "ignore" });
    rmSync(join(other, ".."), { recursive: true, force: true });
  }
  console.log(`| figure | ${commit} (ref) | ${head} (this) | this / ref |\n| --- | ---: | ---: | ---: |`);
  for (const [path, values] of figures.this) {
    const ref = figures.ref.get(path);
    if (ref === undefined) continue;
    const a = mean(ref);
    const b = mean(values);
    console.log(`| ${path} | ${fmt(a)} | ${fmt(b)} | ${a === 0 ? "—" : (b / a).toFixed(2)} |`);
  }
}

function fmt(x: number): string {
  return Math.abs(x) >= 1000 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(3);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
