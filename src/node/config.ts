/**
 * crdt-node configuration: command-line flags, each with an environment variable, validated into
 * a NodeConfig. No process access (argv and env are passed in) and no I/O but reading the files
 * the secret settings name (credentials.ts); every problem is a ConfigError whose message names
 * the flag and its variable.
 */
import { Command, CommanderError, Option } from "commander";
import { ConfigError, DEFAULTS, resolveOptions } from "../index.js";
import { redact } from "../transport/nats.js";
import { httpsFiles, natsLogin, remoteLogin, security, type NatsLogin, type NodeSecurity, type SecretName, type Settings } from "./credentials.js";
import { parseOrigin } from "./http-guard.js";
import { LOG_LEVELS, type LogLevel } from "./logging.js";
import { telemetrySettings, type TelemetrySettings } from "./telemetry-config.js";

export interface RemoteDc {
  name: string;
  servers: string[];
  /** How to log in to it: the node's own login, or the credentials its URLs carry. */
  login: NatsLogin;
}

export interface NodeConfig {
  nodeId: string;
  dataCenter: string;
  /** This DC's NATS servers, without credentials (those are in `natsLogin`). */
  nats: string[];
  natsLogin: NatsLogin;
  http: { host: string; port: number };
  /** HTTPS for the API: PEM certificate and key files; undefined serves plain HTTP. */
  https: { certFile: string; keyFile: string } | undefined;
  snapshotDir: string | undefined;
  /** Writes answer only once they are in the snapshot's LevelDB (`snapshot.writeThrough`). */
  snapshotWriteThrough: boolean;
  /** fsync every snapshot batch (`snapshot.sync`). */
  snapshotSync: boolean;
  remoteDcs: RemoteDc[];
  xdcIntervalMs: number;
  role: string | undefined;
  readOnly: boolean;
  token: string | undefined;
  coordinationTimeoutMs: number;
  maxClockSkewMs: number;
  minClusterSize: number;
  /** Message authentication (`ReplicatorOptions.security`); undefined when no key is configured. */
  security: NodeSecurity | undefined;
  /** Host names the API answers besides IP literals and localhost; undefined: the defaults (http-guard.ts). */
  allowedHosts: "any" | string[] | undefined;
  /** Origins a browser page may call the API from (CORS); none by default. */
  corsOrigins: "any" | string[];
  /** Concurrent `GET /v1/watch` streams; past it: 503. */
  maxWatchers: number;
  logLevel: LogLevel;
  /** Metrics export, from the standard `OTEL_*` variables (telemetry-config.ts). */
  telemetry: TelemetrySettings;
}

export type ParseResult = { help: string } | { config: NodeConfig };

interface Spec {
  flag: string;
  env: string;
  help: string;
  fallback?: string;
}

const SPECS = {
  nodeId: { flag: "--node-id <id>", env: "NODE_ID", help: "this node's id: letters, digits, '-' or '_' (required)" },
  dc: { flag: "--dc <name>", env: "DC", help: "data center of this node", fallback: DEFAULTS.dataCenter },
  nats: { flag: "--nats <urls>", env: "NATS_URL", help: "NATS server(s) of this DC, comma-separated", fallback: "nats://127.0.0.1:4222" },
  http: { flag: "--http <host:port>", env: "HTTP_ADDR", help: "HTTP listen address (port 0: any free port)", fallback: "127.0.0.1:8080" },
  snapshotDir: { flag: "--snapshot-dir <dir>", env: "SNAPSHOT_DIR", help: "LevelDB snapshot directory (default: no snapshots)" },
  snapshotWriteThrough: {
    flag: "--snapshot-write-through",
    env: "SNAPSHOT_WRITE_THROUGH",
    help: "answer a write only once it is in the snapshot (survives a crash of this process; needs --snapshot-dir)",
  },
  snapshotSync: {
    flag: "--snapshot-sync",
    env: "SNAPSHOT_SYNC",
    help: "fsync every snapshot write (write-through then also survives an OS crash or power loss; needs --snapshot-dir)",
  },
  remoteDc: {
    flag: "--remote-dc <name=urls>",
    env: "REMOTE_DCS",
    help: "a remote DC to replicate with, e.g. west=nats://w1:4222,nats://w2:4222; repeatable (env: space-separated)",
  },
  xdcIntervalMs: { flag: "--xdc-interval-ms <ms>", env: "XDC_INTERVAL_MS", help: "cross-DC flush interval", fallback: String(DEFAULTS.dcIntervalMs) },
  role: { flag: "--role <role>", env: "ROLE", help: "membership role: coordinated writes and reads ask and count only members of the same role (replication still reaches every member)" },
  readOnly: { flag: "--read-only", env: "READ_ONLY", help: "relay: merge and serve reads and watches, refuse writes (403)" },
  token: { flag: "--token <token>", env: "TOKEN", help: "require 'Authorization: Bearer <token>' on every route but /healthz, /readyz" },
  coordinationTimeoutMs: {
    flag: "--coordination-timeout-ms <ms>",
    env: "COORDINATION_TIMEOUT_MS",
    help: "default timeout of ?consistency=majority|all",
    fallback: String(DEFAULTS.coordinationTimeoutMs),
  },
  maxClockSkewMs: {
    flag: "--max-clock-skew-ms <ms>",
    env: "MAX_CLOCK_SKEW_MS",
    help: "largest lead over this node's clock an LWW timestamp may have (further ahead: 400, or rejected from peers)",
    fallback: String(DEFAULTS.maxClockSkewMs),
  },
  minClusterSize: {
    flag: "--min-cluster-size <n>",
    env: "MIN_CLUSTER_SIZE",
    help: "smallest N for majority/all: set it to the cluster's size so a node restarted cut off from everyone cannot acknowledge alone",
    fallback: String(DEFAULTS.minClusterSize),
  },
  tlsCert: { flag: "--tls-cert <file>", env: "HTTP_TLS_CERT", help: "serve the API over HTTPS with this PEM certificate (with --tls-key)" },
  tlsKey: { flag: "--tls-key <file>", env: "HTTP_TLS_KEY", help: "PEM private key of --tls-cert" },
  natsUser: { flag: "--nats-user <user>", env: "NATS_USER", help: "NATS user name (with --nats-pass)" },
  natsPass: { flag: "--nats-pass <password>", env: "NATS_PASS", help: "NATS password (prefer the variable: flags show in ps)" },
  natsToken: { flag: "--nats-token <token>", env: "NATS_TOKEN", help: "NATS token (prefer the variable: flags show in ps)" },
  natsNkey: { flag: "--nats-nkey <file|seed>", env: "NATS_NKEY", help: "NATS nkey: a file holding the user seed (SU…), or the seed itself (prefer the file)" },
  natsCreds: { flag: "--nats-creds <file>", env: "NATS_CREDS", help: "NATS .creds file (user JWT and seed), re-read on every reconnect" },
  natsTlsCa: { flag: "--nats-tls-ca <file>", env: "NATS_TLS_CA", help: "PEM CA that signed the NATS servers' certificates (requires TLS)" },
  natsTlsCert: { flag: "--nats-tls-cert <file>", env: "NATS_TLS_CERT", help: "PEM client certificate for NATS (mutual TLS, with --nats-tls-key)" },
  natsTlsKey: { flag: "--nats-tls-key <file>", env: "NATS_TLS_KEY", help: "PEM private key of --nats-tls-cert" },
  clusterKey: { flag: "--cluster-key <key>", env: "CLUSTER_KEY", help: "shared secret every message is authenticated with, 32+ bytes (prefer --cluster-key-file)" },
  clusterKeyFile: { flag: "--cluster-key-file <file>", env: "CLUSTER_KEY_FILE", help: "file holding the cluster key (surrounding whitespace ignored)" },
  nodeKeyFile: { flag: "--node-key-file <file>", env: "NODE_KEY_FILE", help: "file holding this node's signing key, an nkey seed (with --trusted-keys)" },
  trustedKeys: { flag: "--trusted-keys <file>", env: "TRUSTED_KEYS", help: 'JSON file of node id → public nkey whose signatures are accepted, e.g. {"east-1":"UA…"}' },
  // HTTP door: Host/Origin checks and the watcher cap.
  allowedHosts: {
    flag: "--allowed-hosts <names>",
    env: "ALLOWED_HOSTS",
    help: "host names the API answers (421 otherwise), comma-separated, or * for any; IP addresses and localhost always (default: the --http host, or on 0.0.0.0 the machine's host name and the node id)",
  },
  corsOrigins: {
    flag: "--cors-origins <origins>",
    env: "CORS_ORIGINS",
    help: "origins (scheme://host[:port]) whose pages may call the API, comma-separated, or * for any (default: none; other origins cannot write, 403)",
  },
  maxWatchers: { flag: "--max-watchers <n>", env: "MAX_WATCHERS", help: "concurrent GET /v1/watch streams (past it: 503)", fallback: "1000" },
  logLevel: { flag: "--log-level <level>", env: "LOG_LEVEL", help: `JSON log lines at this level and above: ${LOG_LEVELS.join(", ")} (requests are logged at debug)`, fallback: "info" },
} satisfies Record<string, Spec>;

function program(): Command {
  const p = new Command("crdt-node")
    .description("A crdt-replicator node: CRDT keys over HTTP, replicated as deltas over NATS.")
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .allowExcessArguments(false);
  for (const s of Object.values(SPECS) as Spec[]) {
    const o = new Option(s.flag, `${s.help} [env ${s.env}]${s.fallback === undefined ? "" : ` (default: ${s.fallback})`}`);
    if (s === SPECS.remoteDc) o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    p.addOption(o);
  }
  return p;
}

/** Parse `argv` (without node and script) and `env` into a config, or the help text. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const p = program();
  try {
    p.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help") return { help: p.helpInformation() };
      throw new ConfigError(`${e.message.replace(/^error: /, "")} (see --help)`);
    }
    throw e;
  }
  const flags = p.opts<Record<string, unknown>>();
  const get = (name: keyof typeof SPECS): string | undefined => {
    const s: Spec = SPECS[name];
    const v = flags[name];
    if (typeof v === "string") return v;
    const e = env[s.env];
    return e !== undefined && e !== "" ? e : s.fallback;
  };
  const where = (name: keyof typeof SPECS): string => `${SPECS[name].flag.split(" ")[0]} / ${SPECS[name].env}`;

  const nodeId = get("nodeId");
  if (nodeId === undefined) throw new ConfigError(`${where("nodeId")} is required: the node's id, e.g. --node-id east-1`);
  const remoteArgs = Array.isArray(flags.remoteDc) ? (flags.remoteDc as string[]) : splitList(env.REMOTE_DCS ?? "", /[\s;]+/);
  const secrets: Settings = { value: (n: SecretName) => get(n), where: (n: SecretName) => where(n) };
  const nats = natsLogin(secrets, servers(get("nats")!, where("nats")), where("nats"));
  const config: NodeConfig = {
    nodeId,
    dataCenter: get("dc")!,
    nats: nats.servers,
    natsLogin: nats.login,
    http: address(get("http")!, where("http")),
    https: httpsFiles(secrets),
    snapshotDir: get("snapshotDir"),
    snapshotWriteThrough: flags.snapshotWriteThrough === true || boolean(env.SNAPSHOT_WRITE_THROUGH, where("snapshotWriteThrough")),
    snapshotSync: flags.snapshotSync === true || boolean(env.SNAPSHOT_SYNC, where("snapshotSync")),
    remoteDcs: remoteArgs.map((r) => remoteDc(r, where("remoteDc"), nats.login)),
    xdcIntervalMs: integer(get("xdcIntervalMs")!, where("xdcIntervalMs")),
    role: get("role"),
    readOnly: flags.readOnly === true || boolean(env.READ_ONLY, where("readOnly")),
    token: get("token"),
    coordinationTimeoutMs: integer(get("coordinationTimeoutMs")!, where("coordinationTimeoutMs")),
    maxClockSkewMs: integer(get("maxClockSkewMs")!, where("maxClockSkewMs")),
    minClusterSize: integer(get("minClusterSize")!, where("minClusterSize")),
    security: security(secrets, nodeId),
    allowedHosts: hostList(get("allowedHosts"), where("allowedHosts")),
    corsOrigins: originList(get("corsOrigins") ?? "", where("corsOrigins")),
    maxWatchers: integer(get("maxWatchers")!, where("maxWatchers"), "a count"),
    logLevel: logLevel(get("logLevel")!, where("logLevel")),
    telemetry: telemetrySettings(env),
  };
  if (config.token !== undefined && !/^[\x21-\x7e]+$/.test(config.token)) {
    throw new ConfigError(`${where("token")} must be printable ASCII without spaces`);
  }
  for (const name of ["snapshotWriteThrough", "snapshotSync"] as const) {
    if (config[name] && config.snapshotDir === undefined) throw new ConfigError(`${where(name)} needs ${where("snapshotDir")}: a directory to write to`);
  }
  const names = config.remoteDcs.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError(`${where("remoteDc")}: remote DC "${dup}" is given twice`);
  try {
    resolveOptions(replicatorOptions(config)); // the library's own checks (ids, DC names, intervals)
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`invalid configuration: ${e.message}`);
    throw e;
  }
  return { config };
}

/** The `Replicator.start` options a config stands for (without transport and meter provider). */
export function replicatorOptions(c: NodeConfig) {
  return {
    nodeId: c.nodeId,
    dataCenter: c.dataCenter,
    role: c.role,
    nats: { servers: c.nats, name: `crdt-node ${c.nodeId}`, ...c.natsLogin },
    coordinationTimeoutMs: c.coordinationTimeoutMs,
    maxClockSkewMs: c.maxClockSkewMs,
    minClusterSize: c.minClusterSize,
    security: c.security,
    snapshot: c.snapshotDir === undefined ? undefined : { dir: c.snapshotDir, writeThrough: c.snapshotWriteThrough, sync: c.snapshotSync },
    dataCenterReplication:
      c.remoteDcs.length === 0 ? undefined : { remotes: c.remoteDcs.map((r) => ({ name: r.name, servers: r.servers, connection: r.login })), intervalMs: c.xdcIntervalMs },
  };
}

function splitList(s: string, sep: RegExp): string[] {
  return s.split(sep).map((x) => x.trim()).filter((x) => x !== "");
}

function servers(list: string, where: string): string[] {
  const out = splitList(list, /,/);
  if (out.length === 0) throw new ConfigError(`${where} needs at least one NATS URL, e.g. nats://127.0.0.1:4222`);
  for (const s of out) {
    let u: URL;
    try {
      u = new URL(s.includes("://") ? s : `nats://${s}`);
    } catch {
      throw new ConfigError(`${where}: ${JSON.stringify(redact(s))} is not a URL like nats://host:4222`);
    }
    if (!["nats:", "tls:", "ws:", "wss:"].includes(u.protocol) || u.hostname === "") {
      throw new ConfigError(`${where}: ${JSON.stringify(redact(s))} must be nats://, tls://, ws:// or wss:// with a host`);
    }
  }
  return out;
}

function address(s: string, where: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(s);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw new ConfigError(`${where} must be host:port (e.g. 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080); got ${JSON.stringify(s)}`);
  return { host: m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!), port };
}

function remoteDc(s: string, where: string, own: NatsLogin): RemoteDc {
  const i = s.indexOf("=");
  if (i <= 0) throw new ConfigError(`${where} must be name=url[,url…], e.g. west=nats://10.0.2.1:4222; got ${JSON.stringify(redact(s))}`);
  const name = s.slice(0, i);
  const remote = remoteLogin(own, servers(s.slice(i + 1), `${where} ${name}`), `${where} ${name}`);
  return { name, servers: remote.servers, login: remote.login };
}

function integer(s: string, where: string, unit = "milliseconds"): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1) throw new ConfigError(`${where} must be a positive integer (${unit}); got ${JSON.stringify(s)}`);
  return n;
}

function hostList(s: string | undefined, where: string): "any" | string[] | undefined {
  if (s === undefined) return undefined;
  const names = splitList(s, /,/).map((n) => n.toLowerCase().replace(/\.$/, ""));
  if (names.includes("*")) return "any";
  const bad = names.find((n) => !/^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/.test(n));
  if (bad !== undefined || names.length === 0) {
    throw new ConfigError(`${where} must be host names without port, comma-separated (e.g. crdt.example.com,east-1), or *; got ${JSON.stringify(bad ?? s)}`);
  }
  return names;
}

function originList(s: string, where: string): "any" | string[] {
  const items = splitList(s, /,/);
  if (items.includes("*")) return "any";
  return items.map((o) => {
    const origin = parseOrigin(o);
    if (origin === undefined) throw new ConfigError(`${where}: ${JSON.stringify(o)} is not an origin like https://app.example.com or http://localhost:3000`);
    return origin;
  });
}

function logLevel(s: string, where: string): LogLevel {
  const level = LOG_LEVELS.find((l) => l === s.trim().toLowerCase());
  if (level === undefined) throw new ConfigError(`${where} must be one of ${LOG_LEVELS.join(", ")}; got ${JSON.stringify(s)}`);
  return level;
}

function boolean(s: string | undefined, where: string): boolean {
  if (s === undefined) return false;
  const v = s.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["", "0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(`${where} must be true or false (1/0, yes/no, on/off); got ${JSON.stringify(s)}`);
}
