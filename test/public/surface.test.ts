/**
 * The published surface (issue 9): the build's declarations hold no `@internal` member, and a
 * TypeScript consumer compiled against them can name the type of every option it passes.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Inside the checkout (git-ignored) so the declarations resolve their dependencies in node_modules. */
let out: string;

before(() => {
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  out = mkdtempSync(join(ROOT, "test-artifacts", "surface-"));
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), { outDir: out, sourceMap: false, inlineSources: false }, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, "\n")),
  });
  assert.ok(config !== undefined);
  const program = ts.createProgram(config.fileNames, config.options);
  const emitted = program.emit(undefined, undefined, undefined, /* emitOnlyDts */ true);
  assert.deepEqual(messages([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]), [], "the build compiles");
});

after(() => {
  if (out !== undefined) rmSync(out, { recursive: true, force: true });
});

function messages(diagnostics: readonly ts.Diagnostic[]): string[] {
  return diagnostics.map((d) => {
    const where = d.file && d.start !== undefined ? `${relative(ROOT, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1} ` : "";
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
  });
}

/** The declaration files the package root reaches through its imports and re-exports. */
function closure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(/(?:from |import\()"(\.{1,2}\/[^"]+)\.js"/g)) {
      visit(join(dirname(file), `${m[1]}.d.ts`));
    }
  };
  visit(entry);
  return [...seen];
}

/** `Class.member` or `name` of every declaration in src tagged `@internal`, by source file. */
function internalDeclarations(): Map<string, string[]> {
  const byFile = new Map<string, string[]>();
  const files = readdirSync(join(ROOT, "src"), { recursive: true }).map(String).filter((f) => f.endsWith(".ts"));
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(join(ROOT, "src", file), "utf8"), ts.ScriptTarget.Latest, true);
    const names: string[] = [];
    const tagged = (node: ts.Node): boolean => ts.getJSDocTags(node).some((t) => t.tagName.text === "internal");
    const nameOf = (node: ts.Node): string | undefined => {
      const name = (node as { name?: ts.Node }).name;
      return name !== undefined && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) ? name.text : undefined;
    };
    for (const statement of sf.statements) {
      const declarations = ts.isVariableStatement(statement) ? statement.declarationList.declarations : [statement];
      if (tagged(statement)) for (const d of declarations) names.push(nameOf(d) ?? "?");
      if (ts.isClassDeclaration(statement) && statement.name !== undefined) {
        for (const member of statement.members) if (tagged(member)) names.push(`${statement.name.text}.${nameOf(member) ?? "constructor"}`);
      }
    }
    if (names.length > 0) byFile.set(join("src", file.replace(/\.ts$/, ".d.ts")), names);
  }
  return byFile;
}

/** Whether a declaration file still declares `Class.member` or a top-level `name`. */
function declares(dts: string, qualified: string): boolean {
  const sf = ts.createSourceFile("x.d.ts", dts, ts.ScriptTarget.Latest, true);
  const [owner, member] = qualified.includes(".") ? qualified.split(".") : [undefined, qualified];
  const named = (n: ts.Node, name: string | undefined): boolean => {
    const id = (n as { name?: ts.Node }).name;
    return id !== undefined && ts.isIdentifier(id) && id.text === name;
  };
  for (const statement of sf.statements) {
    if (owner === undefined) {
      if (named(statement, member)) return true;
      if (ts.isVariableStatement(statement) && statement.declarationList.declarations.some((d) => named(d, member))) return true;
    } else if (ts.isClassDeclaration(statement) && named(statement, owner)) {
      if (member === "constructor") return statement.members.some(ts.isConstructorDeclaration);
      return statement.members.some((m) => named(m, member));
    }
  }
  return false;
}

describe("public surface", () => {
  it("the declarations the package root reaches hold no @internal member", () => {
    const files = closure(join(out, "src/index.d.ts"));
    const internal = internalDeclarations();
    assert.ok(internal.get("src/replicator/replicator.d.ts")?.includes("Replicator.context"), "the scan finds Replicator.context()");
    assert.ok(internal.get("src/crdt/orset.d.ts")?.includes("ORSet.addCanonical"), "the scan finds ORSet.addCanonical");
    const leaks: string[] = [];
    for (const file of files) {
      const dts = readFileSync(file, "utf8");
      if (dts.includes("@internal")) leaks.push(`${relative(out, file)} mentions @internal`);
      for (const name of internal.get(relative(out, file)) ?? []) if (declares(dts, name)) leaks.push(`${relative(out, file)} declares ${name}`);
    }
    assert.ok(files.length > 10, `the closure has the library's modules (${files.length})`);
    assert.deepEqual(leaks, []);
  });

  it("a consumer names the type of every option it passes, against the declarations alone", () => {
    const consumer = join(out, "consumer.ts");
    writeFileSync(
      consumer,
      `import {
  Key, MemoryNetwork, ORSet, Replicator,
  type BorrowedNatsConnection, type ConsistencyLevel, type DataCenterReplicationOptions, type MemoryFaults,
  type MemoryNetworkOptions, type NatsConnectionOptions, type ReadOptions, type RemoteDataCenter, type RepairCause,
  type ReplicatorOptions, type SnapshotOptions, type SubscribeOptions, type Transport, type TransportStatus, type WriteOptions,
} from "./src/index.js";

const nats: NatsConnectionOptions = { servers: ["nats://127.0.0.1:4333"], pingInterval: 500 };
declare const borrowed: BorrowedNatsConnection;
const remote: RemoteDataCenter = { name: "eu", servers: "nats://127.0.0.1:4334", connection: { token: "t" } };
const dataCenterReplication: DataCenterReplicationOptions = { remotes: [remote], intervalMs: 1_000 };
const snapshot: SnapshotOptions = { dir: "/tmp/x", writeThrough: true };
const faults: MemoryFaults = { dropRate: 0 };
const networkOptions: MemoryNetworkOptions = { ...faults, seed: 1 };
const transport: Transport = new MemoryNetwork(networkOptions).connect("a");
const status: TransportStatus | undefined = undefined;
const subscribeOptions: SubscribeOptions | undefined = undefined;
const options: ReplicatorOptions[] = [
  { nodeId: "a", nats, snapshot, dataCenterReplication },
  { nodeId: "b", nats: borrowed },
  { nodeId: "c", transport },
];
const level: ConsistencyLevel = "majority";
const write: WriteOptions = { writeTo: level, timeoutMs: 1_000, durable: false };
const read: ReadOptions = { readFrom: { count: 2 } };
const cause: RepairCause = "manual";
export async function run(): Promise<void> {
  const r = await Replicator.start(options[2]!);
  const key = Key.orset("k");
  await r.update(key, (s, self) => s.add(self, "x"), write);
  const set: ORSet | undefined = await r.get(key, read);
  await r.sync(undefined, cause);
  void [set, status, subscribeOptions];
}
`,
    );
    const program = ts.createProgram([consumer], {
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: ["node"],
      typeRoots: [join(ROOT, "node_modules/@types")],
    });
    const ownErrors = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || d.file.fileName.startsWith(out));
    assert.deepEqual(messages(ownErrors), [], "the consumer and the declarations it reads typecheck");
  });
});
