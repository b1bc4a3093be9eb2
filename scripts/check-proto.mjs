#!/usr/bin/env node
// Fails (exit 1) when gen/ or src/wire/gen/ is not what `npm run proto` generates from
// proto/crdt.proto: regenerates into temp dirs and compares file by file. Runs first in `npm test`.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { GEN_DIRS, ROOT, generate } from "./gen-proto.mjs";

const started = performance.now();
const tmp = mkdtempSync(join(tmpdir(), "crdt-proto-check-"));
const problems = [];
try {
  const fresh = { tsProto: join(tmp, "ts-proto"), descriptor: join(tmp, "descriptor") };
  await generate(fresh);
  const list = (dir) => {
    try {
      return readdirSync(dir).filter((f) => f.endsWith(".ts")).sort();
    } catch {
      return [];
    }
  };
  for (const [which, dir] of Object.entries(GEN_DIRS)) {
    const at = (f) => relative(ROOT, join(dir, f));
    const expected = list(fresh[which]);
    const actual = list(dir);
    for (const f of expected) {
      if (!actual.includes(f)) problems.push(`missing ${at(f)}`);
      else if (readFileSync(join(fresh[which], f), "utf8") !== readFileSync(join(dir, f), "utf8")) problems.push(`${at(f)} differs`);
    }
    for (const f of actual) if (!expected.includes(f)) problems.push(`unexpected ${at(f)} (not generated)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const dir = Object.values(GEN_DIRS).map((d) => relative(ROOT, d)).join(" and ");
if (problems.length > 0) {
  console.error(`${dir}: out of date with proto/crdt.proto: ${problems.join(", ")}.`);
  console.error("Run `npm run proto` and commit the result.");
  process.exit(1);
}
console.log(`${dir}: up to date with proto/crdt.proto (${Math.round(performance.now() - started)} ms)`);
