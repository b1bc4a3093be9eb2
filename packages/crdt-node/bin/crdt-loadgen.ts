#!/usr/bin/env node
/** crdt-loadgen: a gentle stream of writes to crdt-nodes (the docker-compose demo's load). */
import { Command, Option } from "commander";
import { startLoad } from "../src/loadgen.js";

const program = new Command("crdt-loadgen")
  .description("Writes a few operations a second, of every data type, to the given crdt-nodes.")
  .addOption(new Option("--targets <urls>", "comma-separated node base URLs").env("TARGETS").makeOptionMandatory())
  .addOption(new Option("--rate <n>", "writes per second").env("RATE").default("4"))
  .addOption(new Option("--token <token>", "bearer token of the nodes").env("TOKEN"))
  .parse();
const o = program.opts<{ targets: string; rate: string; token?: string }>();
const rate = Number(o.rate);
if (!(rate > 0 && rate <= 1000)) program.error(`--rate must be a number in (0, 1000]; got ${o.rate}`);
const targets = o.targets.split(",").map((t) => t.trim().replace(/\/$/, "")).filter(Boolean);
const load = startLoad({ targets, rate, token: o.token, log: (l) => console.log(l) });
console.log(`crdt-loadgen: ${rate} writes/s to ${targets.join(", ")}`);
const report = setInterval(() => console.log(`crdt-loadgen: ${load.counts.ok} ok, ${load.counts.failed} failed`), 30_000);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    clearInterval(report);
    void load.stop().then(() => process.exit(0));
  });
}
