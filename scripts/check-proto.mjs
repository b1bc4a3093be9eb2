#!/usr/bin/env node
// Fails (exit 1) when src/wire/gen/ is not what `npm run proto` generates from proto/crdt.proto:
// regenerates into a temp dir and compares file by file. Runs first in `npm test`.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { GEN_DIR, ROOT, generate } from "./gen-proto.mjs";

const started = performance.now();
const tmp = mkdtempSync(join(tmpdir(), "crdt-proto-check-"));
const problems = [];
try {
  await generate(tmp);
  const list = (dir) => {
    try {
      return readdirSync(dir).filter((f) => f.endsWith(".ts")).sort();
    } catch {
      return [];
    }
  };
  const expected = list(tmp);
  const actual = list(GEN_DIR);
  for (const f of expected) {
    if (!actual.includes(f)) problems.push(`missing ${f}`);
    else if (readFileSync(join(tmp, f), "utf8") !== readFileSync(join(GEN_DIR, f), "utf8")) problems.push(`${f} differs`);
  }
  for (const f of actual) if (!expected.includes(f)) problems.push(`unexpected ${f} (not generated)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const dir = relative(ROOT, GEN_DIR);
if (problems.length > 0) {
  console.error(`${dir} is out of date with proto/crdt.proto: ${problems.join(", ")}.`);
  console.error("Run `npm run proto` and commit the result.");
  process.exit(1);
}
console.log(`${dir} is up to date with proto/crdt.proto (${Math.round(performance.now() - started)} ms)`);
