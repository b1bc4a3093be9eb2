/**
 * The wire layer's shape (issue 9): one codec module per protocol, each small, and codec.ts the
 * only module of src/wire the rest of the library imports.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));
const PROTOCOL_MODULES = ["shapes.ts", "pb-shapes.ts", "convert.ts", "replication.ts", "membership.ts", "batches.ts", "snapshot-entries.ts"];

test("the messages are split by protocol, each module well under 400 lines", () => {
  for (const file of PROTOCOL_MODULES) {
    const lines = readFileSync(join(SRC, "wire", file), "utf8").split("\n").length;
    assert.ok(lines < 300, `src/wire/${file} has ${lines} lines`);
  }
  assert.ok(!readdirSync(join(SRC, "wire")).includes("messages.ts"), "messages.ts is gone");
});

test("outside src/wire, the library imports the wire layer only through wire/codec.js", () => {
  const offenders: string[] = [];
  for (const file of readdirSync(SRC, { recursive: true }).map(String)) {
    if (!file.endsWith(".ts") || file.startsWith(`wire/`)) continue;
    for (const m of readFileSync(join(SRC, file), "utf8").matchAll(/from "([^"]*\/wire\/[^"]*)"/g)) {
      if (!m[1]!.endsWith("/wire/codec.js")) offenders.push(`src/${file} imports ${m[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});
