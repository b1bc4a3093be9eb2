import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../../src/errors.js";
import { parseConfig, replicatorOptions, type NodeConfig } from "../../packages/crdt-node/src/config.js";

function config(argv: string[], env: Record<string, string> = {}): NodeConfig {
  const r = parseConfig(argv, env);
  assert.ok("config" in r, "expected a config, got help");
  return r.config;
}

function rejects(argv: string[], env: Record<string, string>, pattern: RegExp): void {
  assert.throws(() => parseConfig(argv, env), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
}

describe("crdt-node configuration", () => {
  test("defaults", () => {
    const c = config(["--node-id", "n1"]);
    assert.deepEqual(c, {
      nodeId: "n1",
      dataCenter: "default",
      nats: ["nats://127.0.0.1:4222"],
      natsLogin: {},
      http: { host: "127.0.0.1", port: 8080 },
      https: undefined,
      snapshotDir: undefined,
      snapshotWriteThrough: false,
      snapshotSync: false,
      snapshotIntervalMs: 10_000,
      remoteDcs: [],
      xdcIntervalMs: 5000,
      xdcAntiEntropy: false,
      xdcAntiEntropyIntervalMs: 120_000,
      xdcSendTimeoutMs: 10_000,
      role: undefined,
      readOnly: false,
      token: undefined,
      subject: "crdt.deltas",
      flushIntervalMs: 0,
      heartbeatIntervalMs: 1000,
      failureTimeoutMs: 5000,
      removalTimeoutMs: 30_000,
      antiEntropyIntervalMs: 30_000,
      maxDeltaSize: 65_536,
      pruneIntervalMs: 300_000,
      tombstoneTtlMs: 86_400_000,
      pruneRetiredAfterMs: 86_400_000,
      pruneMarkerTtlMs: 86_400_000,
      coordinationTimeoutMs: 5000,
      maxClockSkewMs: 60000,
      minClusterSize: 1,
      security: undefined,
      allowedHosts: undefined,
      corsOrigins: [],
      maxWatchers: 1000,
      watchBacklog: 10_000,
      logLevel: "info",
      telemetry: {
        exporters: ["prometheus"],
        otlp: { protocol: "http/protobuf", url: "http://localhost:4318/v1/metrics", intervalMs: 60000, timeoutMs: 30000 },
        resource: { "service.name": "crdt-node" },
      },
    });
  });

  test("--log-level / LOG_LEVEL and the OpenTelemetry variables", () => {
    assert.equal(config(["--node-id", "a", "--log-level", "debug"], { LOG_LEVEL: "warn" }).logLevel, "debug");
    assert.equal(config(["--node-id", "a"], { LOG_LEVEL: "WARN" }).logLevel, "warn");
    rejects(["--node-id", "a"], { LOG_LEVEL: "verbose" }, /--log-level \/ LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent; got "verbose"/);
    const t = config(["--node-id", "a"], {
      OTEL_SERVICE_NAME: "crdt-east",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=prod, service.name=ignored,team=a%20b",
      OTEL_METRICS_EXPORTER: "otlp,prometheus",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "5000",
    }).telemetry;
    assert.deepEqual(t, {
      exporters: ["otlp", "prometheus"],
      otlp: { protocol: "http/json", url: "http://collector:4318/v1/metrics", intervalMs: 5000, timeoutMs: 5000 },
      resource: { "deployment.environment.name": "prod", "service.name": "crdt-east", team: "a b" },
    });
    const m = config(["--node-id", "a"], { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "https://otlp.example/custom", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" });
    assert.equal(m.telemetry.otlp.url, "https://otlp.example/custom", "the metrics endpoint is used as is");
    assert.equal(m.telemetry.otlp.protocol, "http/protobuf", "the metrics protocol wins");
    assert.deepEqual(config(["--node-id", "a"], { OTEL_METRICS_EXPORTER: "none" }).telemetry.exporters, []);
    assert.deepEqual(config(["--node-id", "a"], { OTEL_SDK_DISABLED: "true" }).telemetry.exporters, []);
    rejects(["--node-id", "a"], { OTEL_METRICS_EXPORTER: "console" }, /OTEL_METRICS_EXPORTER must be otlp, prometheus/);
    rejects(["--node-id", "a"], { OTEL_METRICS_EXPORTER: "none,otlp" }, /none cannot be combined/);
    rejects(["--node-id", "a"], { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, /grpc is not supported by crdt-node: use http\/protobuf/);
    rejects(["--node-id", "a"], { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, /OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL/);
    rejects(["--node-id", "a"], { OTEL_METRIC_EXPORT_INTERVAL: "5s" }, /OTEL_METRIC_EXPORT_INTERVAL must be a positive integer/);
    rejects(["--node-id", "a"], { OTEL_RESOURCE_ATTRIBUTES: "novalue" }, /OTEL_RESOURCE_ATTRIBUTES must be key=value pairs/);
  });

  test("every setting from the environment", () => {
    const c = config([], {
      CRDT_NODE_ID: "e1",
      CRDT_DC: "east",
      CRDT_NATS_URL: "nats://a:4222, nats://b:4222",
      CRDT_HTTP_ADDR: "0.0.0.0:9000",
      CRDT_SNAPSHOT_DIR: "/data",
      CRDT_SNAPSHOT_WRITE_THROUGH: "true",
      CRDT_SNAPSHOT_SYNC: "1",
      CRDT_REMOTE_DCS: "west=nats://w1:4222,nats://w2:4222 south=tls://s:4222",
      CRDT_XDC_INTERVAL_MS: "1000",
      CRDT_ROLE: "api",
      CRDT_READ_ONLY: "yes",
      CRDT_TOKEN: "s3cret",
      CRDT_COORDINATION_TIMEOUT_MS: "2000",
      CRDT_MAX_CLOCK_SKEW_MS: "30000",
      CRDT_MIN_CLUSTER_SIZE: "3",
    });
    assert.equal(c.nodeId, "e1");
    assert.equal(c.dataCenter, "east");
    assert.deepEqual(c.nats, ["nats://a:4222", "nats://b:4222"]);
    assert.deepEqual(c.http, { host: "0.0.0.0", port: 9000 });
    assert.equal(c.snapshotDir, "/data");
    assert.equal(c.snapshotWriteThrough, true);
    assert.equal(c.snapshotSync, true);
    assert.deepEqual(replicatorOptions(c).snapshot, { dir: "/data", intervalMs: 10_000, writeThrough: true, sync: true });
    assert.deepEqual(c.remoteDcs, [
      { name: "west", servers: ["nats://w1:4222", "nats://w2:4222"], login: {} },
      { name: "south", servers: ["tls://s:4222"], login: {} },
    ]);
    assert.equal(c.xdcIntervalMs, 1000);
    assert.equal(c.role, "api");
    assert.equal(c.readOnly, true);
    assert.equal(c.token, "s3cret");
    assert.equal(c.coordinationTimeoutMs, 2000);
    assert.equal(c.maxClockSkewMs, 30000);
    assert.equal(c.minClusterSize, 3);
    assert.equal(replicatorOptions(c).minClusterSize, 3);
  });

  test("flags win over the environment; --remote-dc repeats", () => {
    const c = config(["--node-id", "f", "--dc", "west", "--remote-dc", "east=nats://e:4222", "--remote-dc", "north=n:4222", "--read-only", "--http", ":0"], {
      CRDT_NODE_ID: "env",
      CRDT_DC: "east",
      CRDT_REMOTE_DCS: "ignored=nats://x:1",
    });
    assert.equal(c.nodeId, "f");
    assert.equal(c.dataCenter, "west");
    assert.deepEqual(c.remoteDcs.map((r) => r.name), ["east", "north"]);
    assert.equal(c.readOnly, true);
    assert.deepEqual(c.http, { host: "0.0.0.0", port: 0 });
    assert.deepEqual(config(["--node-id", "x", "--http", "[::1]:81"]).http, { host: "::1", port: 81 });
    const durable = config(["--node-id", "d", "--snapshot-dir", "/d", "--snapshot-write-through"]);
    assert.deepEqual([durable.snapshotWriteThrough, durable.snapshotSync], [true, false]);
  });

  test("clear messages for bad input", () => {
    rejects([], {}, /--node-id \/ CRDT_NODE_ID is required/);
    rejects(["--node-id", "a b"], {}, /--node-id \/ CRDT_NODE_ID must be 1-128 letters/);
    rejects(["--node-id", "a", "--role", "a.b"], {}, /--role \/ CRDT_ROLE must match/);
    rejects(["--node-id", "a", "--http", "8080"], {}, /--http \/ CRDT_HTTP_ADDR must be host:port/);
    rejects(["--node-id", "a", "--http", "h:70000"], {}, /HTTP_ADDR must be host:port/);
    rejects(["--node-id", "a", "--nats", "http://x:1"], {}, /--nats \/ CRDT_NATS_URL: "http:\/\/x:1" must be nats:\/\//);
    rejects(["--node-id", "a", "--remote-dc", "west"], {}, /--remote-dc \/ CRDT_REMOTE_DCS must be name=url/);
    rejects(["--node-id", "a", "--dc", "west", "--remote-dc", "west=nats://w:1"], {}, /remote DC "west" is this node's own --dc \/ CRDT_DC/);
    rejects(["--node-id", "a", "--remote-dc", "w=nats://w:1", "--remote-dc", "w=nats://v:1"], {}, /"w" is given twice/);
    rejects(["--node-id", "a", "--xdc-interval-ms", "0"], {}, /--xdc-interval-ms \/ CRDT_XDC_INTERVAL_MS must be a positive integer/);
    rejects(["--node-id", "a"], { CRDT_READ_ONLY: "maybe" }, /--read-only \/ CRDT_READ_ONLY must be true or false/);
    rejects(["--node-id", "a", "--snapshot-write-through"], {}, /--snapshot-write-through \/ CRDT_SNAPSHOT_WRITE_THROUGH needs --snapshot-dir/);
    rejects(["--node-id", "a"], { CRDT_SNAPSHOT_SYNC: "on" }, /--snapshot-sync \/ CRDT_SNAPSHOT_SYNC needs --snapshot-dir/);
    rejects(["--node-id", "a", "--token", "has space"], {}, /--token \/ CRDT_TOKEN must be printable ASCII/);
    rejects(["--node-id", "a", "--bogus"], {}, /unknown option '--bogus'/);
    rejects(["--node-id", "a", "extra"], {}, /too many arguments|excess/i);
  });

  test("--help lists every flag with its variable and default", () => {
    const r = parseConfig(["--help"], {});
    assert.ok("help" in r);
    for (const s of ["--node-id", "NODE_ID", "--dc", "DC", "--nats", "NATS_URL", "--http", "HTTP_ADDR", "default: 127.0.0.1:8080", "--snapshot-dir", "SNAPSHOT_DIR", "--snapshot-write-through", "SNAPSHOT_WRITE_THROUGH", "--snapshot-sync", "SNAPSHOT_SYNC", "--remote-dc", "REMOTE_DCS", "--role", "ROLE", "--read-only", "READ_ONLY", "--token", "TOKEN", "--xdc-interval-ms"]) {
      assert.ok(r.help.includes(s), `help mentions ${s}:\n${r.help}`);
    }
  });

  test("HTTP door: --allowed-hosts, --cors-origins, --max-watchers and their variables", () => {
    const c = config(["--node-id", "h", "--allowed-hosts", "Crdt.Example.COM., east-1", "--cors-origins", "https://app.example.com/,http://localhost:3000", "--max-watchers", "7"]);
    assert.deepEqual(c.allowedHosts, ["crdt.example.com", "east-1"]);
    assert.deepEqual(c.corsOrigins, ["https://app.example.com", "http://localhost:3000"]);
    assert.equal(c.maxWatchers, 7);
    assert.equal(config(["--node-id", "h", "--watch-backlog", "50"]).watchBacklog, 50);
    assert.equal(config(["--node-id", "h"], { CRDT_WATCH_BACKLOG: "70" }).watchBacklog, 70);
    rejects(["--node-id", "a", "--watch-backlog", "0"], {}, /--watch-backlog \/ CRDT_WATCH_BACKLOG must be a positive integer/);
    const e = config(["--node-id", "h"], { CRDT_ALLOWED_HOSTS: "*", CRDT_CORS_ORIGINS: "*", CRDT_MAX_WATCHERS: "1" });
    assert.deepEqual([e.allowedHosts, e.corsOrigins, e.maxWatchers], ["any", "any", 1]);
    rejects(["--node-id", "a", "--allowed-hosts", "h:8080"], {}, /--allowed-hosts \/ CRDT_ALLOWED_HOSTS must be host names without port/);
    rejects(["--node-id", "a", "--cors-origins", "app.example.com"], {}, /--cors-origins \/ CRDT_CORS_ORIGINS: "app.example.com" is not an origin/);
    rejects(["--node-id", "a", "--cors-origins", "https://a.example/path"], {}, /is not an origin/);
    rejects(["--node-id", "a"], { CRDT_MAX_WATCHERS: "0" }, /--max-watchers \/ CRDT_MAX_WATCHERS must be a positive integer \(a count\)/);
    const help = parseConfig(["--help"], {});
    assert.ok("help" in help);
    for (const s of ["--allowed-hosts", "ALLOWED_HOSTS", "--cors-origins", "CORS_ORIGINS", "--max-watchers", "MAX_WATCHERS", "default: 1000"]) assert.ok(help.help.includes(s), s);
  });
});
