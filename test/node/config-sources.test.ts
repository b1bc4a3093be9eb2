/**
 * crdt-node settings from their three sources: flags, CRDT_* variables (the unprefixed names still
 * read, with a deprecation line) and a --config file (JSON or YAML), with precedence
 * flag > variable > file > default; the tuning flags reach the Replicator's options; --version.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { ConfigError } from "../../src/errors.js";
import { resolveOptions } from "../../src/index.js";
import { deprecatedVariables, parseConfig, replicatorOptions, type NodeConfig } from "../../packages/crdt-node/src/config.js";
import { ROOT } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "crdt-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function parse(argv: string[], env: Record<string, string> = {}): { config: NodeConfig } {
  const r = parseConfig(argv, env);
  assert.ok("config" in r, "expected a config");
  return r;
}

function rejects(argv: string[], env: Record<string, string>, pattern: RegExp): void {
  assert.throws(() => parseConfig(argv, env), (e: unknown) => e instanceof ConfigError && pattern.test(e.message), `expected ${pattern}`);
}

describe("crdt-node settings: flags, variables, config file", () => {
  test("every tuning flag sets its Replicator option", () => {
    const { config } = parse([
      "--node-id", "t", "--snapshot-dir", "/s", "--remote-dc", "west=nats://w:4222",
      "--subject", "app.crdt", "--flush-interval-ms", "0", "--heartbeat-interval-ms", "200", "--failure-timeout-ms", "900",
      "--removal-timeout-ms", "4000", "--anti-entropy-interval-ms", "7000", "--max-delta-size", "2048", "--prune-interval-ms", "60000",
      "--tombstone-ttl-ms", "3600000", "--prune-retired-after-ms", "600000", "--prune-marker-ttl-ms", "7200000", "--snapshot-interval-ms", "2500",
      "--xdc-anti-entropy", "--xdc-anti-entropy-interval-ms", "30000", "--xdc-send-timeout-ms", "3000", "--xdc-interval-ms", "1500",
    ]);
    const o = resolveOptions({ ...replicatorOptions(config), nats: undefined, transport: {} as never });
    assert.equal(o.subject, "app.crdt");
    assert.deepEqual(
      [o.flushIntervalMs, o.heartbeatIntervalMs, o.failureTimeoutMs, o.removalTimeoutMs, o.antiEntropyIntervalMs, o.maxDeltaSize, o.pruneIntervalMs, o.tombstoneTtlMs, o.pruneRetiredAfterMs, o.pruneMarkerTtlMs],
      [0, 200, 900, 4000, 7000, 2048, 60000, 3600000, 600000, 7200000],
    );
    assert.equal(o.snapshot?.intervalMs, 2500);
    const x = o.dataCenterReplication!;
    assert.deepEqual([x.intervalMs, x.antiEntropy, x.antiEntropyIntervalMs, x.sendTimeoutMs], [1500, true, 30000, 3000]);
  });

  test("precedence: flag > variable > file > default, per setting", () => {
    const cfg = file("p.json", JSON.stringify({ nodeId: "from-file", dc: "file-dc", role: "file-role", tombstoneTtlMs: 1000, heartbeatIntervalMs: 100, failureTimeoutMs: 400 }));
    const { config } = parse(["--config", cfg, "--dc", "flag-dc"], { CRDT_DC: "env-dc", CRDT_ROLE: "env-role", CRDT_TOMBSTONE_TTL_MS: "2000" });
    assert.equal(config.dataCenter, "flag-dc", "a flag beats the variable and the file");
    assert.equal(config.role, "env-role", "a variable beats the file");
    assert.equal(config.tombstoneTtlMs, 2000);
    assert.equal(config.nodeId, "from-file", "the file beats the default");
    assert.equal(config.heartbeatIntervalMs, 100);
    assert.equal(config.removalTimeoutMs, 30_000, "a setting given nowhere: the default");
    // The file named by the variable instead of the flag.
    assert.equal(parse([], { CRDT_CONFIG: cfg }).config.nodeId, "from-file");
  });

  test("a YAML file, with lists for the repeatable and comma-separated settings", () => {
    const cfg = file(
      "node.yaml",
      ["nodeId: y1", "dc: east", "nats:", "  - nats://a:4222", "  - nats://b:4222", "remoteDc:", "  - west=nats://w1:4222,nats://w2:4222", "  - south=nats://s:4222", "readOnly: true", "xdcAntiEntropy: true", "maxWatchers: 5", "corsOrigins: [https://app.example.com]"].join("\n"),
    );
    const { config } = parse(["--config", cfg]);
    assert.deepEqual(config.nats, ["nats://a:4222", "nats://b:4222"]);
    assert.deepEqual(config.remoteDcs.map((r) => [r.name, r.servers]), [["west", ["nats://w1:4222", "nats://w2:4222"]], ["south", ["nats://s:4222"]]]);
    assert.deepEqual([config.readOnly, config.xdcAntiEntropy, config.maxWatchers, config.corsOrigins], [true, true, 5, ["https://app.example.com"]]);
  });

  test("the unprefixed variables still work, each with one deprecation line naming its replacement", () => {
    const env = { NODE_ID: "old", DC: "east", TOKEN: "t0k", CRDT_ROLE: "api" };
    const { config } = parse([], env);
    assert.deepEqual([config.nodeId, config.dataCenter, config.token, config.role], ["old", "east", "t0k", "api"]);
    assert.deepEqual(deprecatedVariables(env).sort(), [
      "crdt-node: DC is deprecated: use CRDT_DC",
      "crdt-node: NODE_ID is deprecated: use CRDT_NODE_ID",
      "crdt-node: TOKEN is deprecated: use CRDT_TOKEN",
    ]);
    const both = { CRDT_NODE_ID: "new", NODE_ID: "old" };
    assert.equal(parse([], both).config.nodeId, "new");
    assert.deepEqual(deprecatedVariables(both), ["crdt-node: NODE_ID is deprecated: use CRDT_NODE_ID (NODE_ID is ignored: CRDT_NODE_ID is set)"]);
    assert.deepEqual(deprecatedVariables({ CRDT_NODE_ID: "n", PATH: "/bin" }), []);
    rejects([], { NODE_ID: "n", READ_ONLY: "maybe" }, /--read-only \/ READ_ONLY must be true or false/);
  });

  test("errors name the flag, the variable or the file key, and what to do", () => {
    rejects(["--node-id", "a", "--tombstone-ttl-ms", "0"], {}, /--tombstone-ttl-ms \/ CRDT_TOMBSTONE_TTL_MS must be a positive integer \(milliseconds\); got "0"/);
    rejects(["--node-id", "a", "--prune-retired-after-ms", "-1"], {}, /--prune-retired-after-ms \/ CRDT_PRUNE_RETIRED_AFTER_MS must be an integer ≥ 0/);
    rejects(["--node-id", "a"], { CRDT_XDC_ANTI_ENTROPY: "sometimes" }, /--xdc-anti-entropy \/ CRDT_XDC_ANTI_ENTROPY must be true or false/);
    // The library's own checks, reworded to name the settings.
    rejects(["--node-id", "a", "--heartbeat-interval-ms", "5000"], {}, /--failure-timeout-ms \/ CRDT_FAILURE_TIMEOUT_MS must be larger than --heartbeat-interval-ms \/ CRDT_HEARTBEAT_INTERVAL_MS/);
    rejects(["--node-id", "a", "--max-delta-size", "100"], {}, /--max-delta-size \/ CRDT_MAX_DELTA_SIZE must be an integer ≥ 1024/);
    rejects(["--node-id", "a", "--subject", "a.*"], {}, /--subject \/ CRDT_SUBJECT must be a NATS subject without wildcards/);
    const bad = file("bad.json", JSON.stringify({ nodeId: "a", pruneIntervalMs: "soon" }));
    rejects(["--config", bad], {}, /"pruneIntervalMs" in .*bad\.json \(--prune-interval-ms \/ CRDT_PRUNE_INTERVAL_MS\) must be a positive integer/);
    rejects(["--config", file("typo.json", '{"nodeID": "a"}')], {}, /--config .*typo\.json: unknown key "nodeID"; the keys are: nodeId, dc, /);
    rejects(["--config", file("broken.json", "{ nodeId: ")], {}, /--config .*broken\.json is not valid JSON/);
    rejects(["--config", file("list.yaml", "- a\n- b\n")], {}, /must hold an object of settings/);
    rejects(["--config", file("nested.json", '{"nodeId": {"id": "a"}}')], {}, /"nodeId" must be a string, a number, true\/false or a list of strings/);
    rejects(["--config", join(dir, "missing.json")], {}, /--config .*missing\.json: cannot read it \(ENOENT\)/);
    rejects([], {}, /--node-id \/ CRDT_NODE_ID is required/);
  });

  test("--version prints the package's version; warnings go to stderr", async () => {
    const run = promisify(execFile);
    const { version } = JSON.parse(readFileSync(join(ROOT, "packages", "crdt-node", "package.json"), "utf8")) as { version: string };
    const out = await run(process.execPath, ["--import", "tsx", "packages/crdt-node/bin/crdt-node.ts", "--version"], { cwd: ROOT, timeout: 60_000 });
    assert.equal(out.stdout.trim(), version);
    // A bad setting after a deprecated variable: the deprecation line and the error, both on stderr, exit 2.
    const failed = await run(process.execPath, ["--import", "tsx", "packages/crdt-node/bin/crdt-node.ts", "--http", "nope"], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NODE_ID: "v" } }).then(
      () => assert.fail("expected exit 2"),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(failed.code, 2);
    assert.equal(failed.stdout, "");
    assert.match(failed.stderr, /NODE_ID is deprecated: use CRDT_NODE_ID/);
    assert.match(failed.stderr, /--http \/ CRDT_HTTP_ADDR must be host:port/);
  });
});
