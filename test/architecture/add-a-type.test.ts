/**
 * "Adding a data type touches its own module plus one registration line" (issue 9), shown by doing
 * it: a copy of the project gains MaxRegister (test/architecture/fixtures/max-register.ts.txt) as
 * src/crdt/max-register.ts, its entry in registry.ts, and its schema in proto/crdt.proto (`npm run
 * proto` regenerates the descriptor). The copy then type-checks and the new type works through the
 * registry, typed keys, the wire codec, two replicators and the daemon's JSON codec
 * (fixtures/add-a-type.check.ts.txt); and the copy's src/ differs from ours in exactly those files.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./imports.js";

const FIXTURES = join(ROOT, "test", "architecture", "fixtures");

/** The .ts files under `dir`/src whose text differs from ours (or that we lack). */
function changedSources(dir: string): string[] {
  const files = readdirSync(join(dir, "src"), { recursive: true }).map(String).filter((f) => f.endsWith(".ts"));
  return files
    .filter((f) => {
      try {
        return readFileSync(join(ROOT, "src", f), "utf8") !== readFileSync(join(dir, "src", f), "utf8");
      } catch {
        return true;
      }
    })
    .map((f) => f.split("\\").join("/"))
    .sort();
}

function run(dir: string, args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: dir, encoding: "utf8", timeout: 180_000, stdio: ["ignore", "pipe", "pipe"] });
}

test("a new data type is its module, its entry in registry.ts and its schema; nothing else changes", { timeout: 400_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "add-a-type-"));
  try {
    for (const p of ["src", "packages/crdt-node/src", "proto", "scripts", "package.json", "tsconfig.json"]) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
    symlinkSync(realpathSync(join(ROOT, "node_modules")), join(dir, "node_modules"), "dir");

    // 1. Its module.
    copyFileSync(join(FIXTURES, "max-register.ts.txt"), join(dir, "src", "crdt", "max-register.ts"));
    // 2. Its registration: the import and the entry in DATA_TYPES.
    const registryFile = join(dir, "src", "crdt", "registry.ts");
    const registry = readFileSync(registryFile, "utf8");
    const registered = registry
      .replace('import type { AnyState', 'import { maxRegisterType } from "./max-register.js";\nimport type { AnyState')
      .replace(/\n\];\n/, "\n  maxRegisterType,\n];\n");
    assert.equal(registered.split("\n").length, registry.split("\n").length + 2);
    writeFileSync(registryFile, registered);
    // 3. Its schema: the enum value and the state message, then `npm run proto`.
    const protoFile = join(dir, "proto", "crdt.proto");
    const proto = readFileSync(protoFile, "utf8").replace("  OR_MULTI_MAP = 11;\n", "  OR_MULTI_MAP = 11;\n  MAX_REGISTER = 12;\n");
    writeFileSync(protoFile, proto + readFileSync(join(FIXTURES, "max-register.proto.txt"), "utf8"));
    run(dir, ["scripts/gen-proto.mjs"]);

    assert.deepEqual(changedSources(dir), ["crdt/max-register.ts", "crdt/registry.ts", "wire/gen/descriptor.ts"]);
    // The copy type-checks: MaxRegister's kind joined DataKind, and no table or switch misses it.
    mkdirSync(join(dir, "bin"));
    copyFileSync(join(FIXTURES, "add-a-type.check.ts.txt"), join(dir, "bin", "add-a-type-check.ts"));
    // The library, the daemon's sources (their `crdt-replicator` is the copy's src/index.ts, through tsconfig paths) and the check.
    const check = { extends: "./tsconfig.json", compilerOptions: { noEmit: true }, include: ["src/**/*.ts", "packages/crdt-node/src/**/*.ts", "bin/**/*.ts"] };
    writeFileSync(join(dir, "tsconfig.check.json"), JSON.stringify(check));
    run(dir, [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.check.json"]);
    // And it works end to end.
    assert.match(run(dir, ["--import", "tsx", "bin/add-a-type-check.ts"]), /^ok$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
