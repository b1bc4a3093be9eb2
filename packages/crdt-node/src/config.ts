/**
 * crdt-node configuration: command-line flags, each with an environment variable and a config-file
 * key, validated into a NodeConfig. Precedence: flag > variable > `--config` file > default. No
 * process access (argv and env are passed in) and no I/O but reading the config file and the files
 * the secret settings name (credentials.ts); every problem is a ConfigError whose message names the
 * flag and its variable (or the file and its key) and what to do.
 */
import { Command, CommanderError, Option } from "commander";
import { ConfigError, DEFAULTS, redact, resolveOptions, type ResolvedOptions } from "crdt-replicator";
import { readConfigFile, type FileValue } from "./config-file.js";
import { httpsFiles, natsLogin, remoteLogin, security, type NatsLogin, type NodeSecurity, type SecretName, type Settings } from "./credentials.js";
import { parseOrigin } from "./http-guard.js";
import { DEFAULT_WATCH_BACKLOG } from "./watch-backlog.js";
import { LOG_LEVELS, type LogLevel } from "./logging.js";
import { telemetrySettings, type TelemetrySettings } from "./telemetry-config.js";

export interface RemoteDc {
  name: string;
  servers: string[];
  /** How to log in to it: the node's own login, or the credentials its URLs carry. */
  login: NatsLogin;
}

/** The ReplicatorOptions a config carries under the same names, handed on as they are. */
const TUNING = [
  "subject",
  "flushIntervalMs",
  "heartbeatIntervalMs",
  "failureTimeoutMs",
  "removalTimeoutMs",
  "antiEntropyIntervalMs",
  "maxDeltaSize",
  "pruneIntervalMs",
  "tombstoneTtlMs",
  "pruneRetiredAfterMs",
  "pruneMarkerTtlMs",
  "coordinationTimeoutMs",
  "maxClockSkewMs",
  "minClusterSize",
] as const satisfies readonly (keyof ResolvedOptions)[];

type Tuning = Pick<ResolvedOptions, (typeof TUNING)[number]>;

export interface NodeConfig extends Tuning {
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
  /** `snapshot.intervalMs`. */
  snapshotIntervalMs: number;
  remoteDcs: RemoteDc[];
  xdcIntervalMs: number;
  /** `dataCenterReplication.antiEntropy`, `.antiEntropyIntervalMs`, `.sendTimeoutMs`. */
  xdcAntiEntropy: boolean;
  xdcAntiEntropyIntervalMs: number;
  xdcSendTimeoutMs: number;
  role: string | undefined;
  readOnly: boolean;
  token: string | undefined;
  /** Message authentication (`ReplicatorOptions.security`); undefined when no key is configured. */
  security: NodeSecurity | undefined;
  /** Host names the API answers besides IP literals and localhost; undefined: the defaults (http-guard.ts). */
  allowedHosts: "any" | string[] | undefined;
  /** Origins a browser page may call the API from (CORS); none by default. */
  corsOrigins: "any" | string[];
  /** Concurrent `GET /v1/watch` streams; past it: 503. */
  maxWatchers: number;
  /** Watch events kept for `Last-Event-ID` resumes. */
  watchBacklog: number;
  logLevel: LogLevel;
  /** Metrics export, from the standard `OTEL_*` variables (telemetry-config.ts). */
  telemetry: TelemetrySettings;
}

export type ParseResult =
  | { help: string }
  | { version: true }
  | { config: NodeConfig };

interface Spec {
  flag: string;
  env: string;
  /** The unprefixed variable of earlier releases: still read (when `env` is unset), with a warning. */
  legacyEnv?: string;
  help: string;
  fallback?: string;
  /** The Replicator option it sets, as the library's messages name it (they are reworded to name the flag). */
  option?: string;
}

const ms = (n: number): string => String(n);

const SPECS = {
  config: { flag: "--config <file>", env: "CRDT_CONFIG", help: "read settings from this JSON or YAML file (keys: the names below in camelCase, e.g. nodeId, tombstoneTtlMs); flags and variables override it" },
  nodeId: { flag: "--node-id <id>", env: "CRDT_NODE_ID", legacyEnv: "NODE_ID", help: "this node's id: letters, digits, '-' or '_' (required)", option: "nodeId" },
  dc: { flag: "--dc <name>", env: "CRDT_DC", legacyEnv: "DC", help: "data center of this node", fallback: DEFAULTS.dataCenter, option: "dataCenter" },
  nats: { flag: "--nats <urls>", env: "CRDT_NATS_URL", legacyEnv: "NATS_URL", help: "NATS server(s) of this DC, comma-separated (every server of a NATS cluster: the node fails over between them)", fallback: "nats://127.0.0.1:4222" },
  http: { flag: "--http <host:port>", env: "CRDT_HTTP_ADDR", legacyEnv: "HTTP_ADDR", help: "HTTP listen address (port 0: any free port)", fallback: "127.0.0.1:8080" },
  snapshotDir: { flag: "--snapshot-dir <dir>", env: "CRDT_SNAPSHOT_DIR", legacyEnv: "SNAPSHOT_DIR", help: "LevelDB snapshot directory (default: no snapshots)" },
  snapshotWriteThrough: {
    flag: "--snapshot-write-through",
    env: "CRDT_SNAPSHOT_WRITE_THROUGH",
    legacyEnv: "SNAPSHOT_WRITE_THROUGH",
    help: "answer a write only once it is in the snapshot (survives a crash of this process; needs --snapshot-dir)",
  },
  snapshotSync: {
    flag: "--snapshot-sync",
    env: "CRDT_SNAPSHOT_SYNC",
    legacyEnv: "SNAPSHOT_SYNC",
    help: "fsync every snapshot write (write-through then also survives an OS crash or power loss; needs --snapshot-dir)",
  },
  snapshotIntervalMs: { flag: "--snapshot-interval-ms <ms>", env: "CRDT_SNAPSHOT_INTERVAL_MS", help: "how often changed keys are written to the snapshot", fallback: ms(DEFAULTS.snapshotIntervalMs), option: "snapshot.intervalMs" },
  remoteDc: {
    flag: "--remote-dc <name=urls>",
    env: "CRDT_REMOTE_DCS",
    legacyEnv: "REMOTE_DCS",
    help: "a remote DC to replicate with, e.g. west=nats://w1:4222,nats://w2:4222; repeatable (env: space-separated; file: a list)",
  },
  xdcIntervalMs: { flag: "--xdc-interval-ms <ms>", env: "CRDT_XDC_INTERVAL_MS", legacyEnv: "XDC_INTERVAL_MS", help: "cross-DC flush interval", fallback: ms(DEFAULTS.dcIntervalMs), option: "dataCenterReplication.intervalMs" },
  xdcAntiEntropy: { flag: "--xdc-anti-entropy", env: "CRDT_XDC_ANTI_ENTROPY", help: "periodic cross-DC digest rounds, repairing batches lost between DCs (the DC leader also runs one when it becomes leader)" },
  xdcAntiEntropyIntervalMs: {
    flag: "--xdc-anti-entropy-interval-ms <ms>",
    env: "CRDT_XDC_ANTI_ENTROPY_INTERVAL_MS",
    help: "interval of the cross-DC digest rounds (with --xdc-anti-entropy)",
    fallback: ms(DEFAULTS.dcAntiEntropyIntervalMs),
    option: "dataCenterReplication.antiEntropyIntervalMs",
  },
  xdcSendTimeoutMs: { flag: "--xdc-send-timeout-ms <ms>", env: "CRDT_XDC_SEND_TIMEOUT_MS", help: "per-attempt timeout of a cross-DC send", fallback: ms(DEFAULTS.dcSendTimeoutMs), option: "dataCenterReplication.sendTimeoutMs" },
  role: { flag: "--role <role>", env: "CRDT_ROLE", legacyEnv: "ROLE", help: "membership role: coordinated writes and reads ask and count only members of the same role (replication still reaches every member)", option: "role" },
  readOnly: { flag: "--read-only", env: "CRDT_READ_ONLY", legacyEnv: "READ_ONLY", help: "relay: merge and serve reads and watches, refuse writes (403)" },
  token: { flag: "--token <token>", env: "CRDT_TOKEN", legacyEnv: "TOKEN", help: "require 'Authorization: Bearer <token>' on every route but /healthz, /readyz" },
  subject: { flag: "--subject <subject>", env: "CRDT_SUBJECT", help: "the delta subject; membership and per-node subjects derive from it (every node of the cluster and its NATS permissions must agree)", fallback: DEFAULTS.subject, option: "subject" },
  flushIntervalMs: {
    flag: "--flush-interval-ms <ms>",
    env: "CRDT_FLUSH_INTERVAL_MS",
    help: "coalescing window of outgoing deltas (0: when the running task ends, then at the end of the event-loop turn)",
    fallback: ms(DEFAULTS.flushIntervalMs),
    option: "flushIntervalMs",
  },
  heartbeatIntervalMs: { flag: "--heartbeat-interval-ms <ms>", env: "CRDT_HEARTBEAT_INTERVAL_MS", help: "membership heartbeat interval", fallback: ms(DEFAULTS.heartbeatIntervalMs), option: "heartbeatIntervalMs" },
  failureTimeoutMs: {
    flag: "--failure-timeout-ms <ms>",
    env: "CRDT_FAILURE_TIMEOUT_MS",
    help: "a member not heard for this long is unreachable (larger than --heartbeat-interval-ms)",
    fallback: ms(DEFAULTS.failureTimeoutMs),
    option: "failureTimeoutMs",
  },
  removalTimeoutMs: {
    flag: "--removal-timeout-ms <ms>",
    env: "CRDT_REMOVAL_TIMEOUT_MS",
    help: "a member not heard for this long is removed, no longer counted for majority (at least --failure-timeout-ms)",
    fallback: ms(DEFAULTS.removalTimeoutMs),
    option: "removalTimeoutMs",
  },
  antiEntropyIntervalMs: { flag: "--anti-entropy-interval-ms <ms>", env: "CRDT_ANTI_ENTROPY_INTERVAL_MS", help: "digest anti-entropy with the next reachable peer in turn", fallback: ms(DEFAULTS.antiEntropyIntervalMs), option: "antiEntropyIntervalMs" },
  maxDeltaSize: { flag: "--max-delta-size <bytes>", env: "CRDT_MAX_DELTA_SIZE", help: "target size of one published message (≥ 1024); larger deltas travel in chunks", fallback: String(DEFAULTS.maxDeltaSize), option: "maxDeltaSize" },
  pruneIntervalMs: { flag: "--prune-interval-ms <ms>", env: "CRDT_PRUNE_INTERVAL_MS", help: "tombstone expiry and metadata compaction tick", fallback: ms(DEFAULTS.pruneIntervalMs), option: "pruneIntervalMs" },
  tombstoneTtlMs: { flag: "--tombstone-ttl-ms <ms>", env: "CRDT_TOMBSTONE_TTL_MS", help: "how long a deleted key stays deleted (longer than any partition you expect to heal)", fallback: ms(DEFAULTS.tombstoneTtlMs), option: "tombstoneTtlMs" },
  pruneRetiredAfterMs: {
    flag: "--prune-retired-after-ms <ms>",
    env: "CRDT_PRUNE_RETIRED_AFTER_MS",
    help: "fold the writer ids of a node removed from the membership once it has stayed away this long (0: keep them)",
    fallback: ms(DEFAULTS.pruneRetiredAfterMs),
    option: "pruneRetiredAfterMs",
  },
  pruneMarkerTtlMs: {
    flag: "--prune-marker-ttl-ms <ms>",
    env: "CRDT_PRUNE_MARKER_TTL_MS",
    help: "how long the marker of a removed node's absorbed ids lives (longer than any partition you expect to heal, as --tombstone-ttl-ms)",
    fallback: ms(DEFAULTS.pruneMarkerTtlMs),
    option: "pruneMarkerTtlMs",
  },
  coordinationTimeoutMs: {
    flag: "--coordination-timeout-ms <ms>",
    env: "CRDT_COORDINATION_TIMEOUT_MS",
    legacyEnv: "COORDINATION_TIMEOUT_MS",
    help: "default timeout of ?consistency=majority|all",
    fallback: ms(DEFAULTS.coordinationTimeoutMs),
    option: "coordinationTimeoutMs",
  },
  maxClockSkewMs: {
    flag: "--max-clock-skew-ms <ms>",
    env: "CRDT_MAX_CLOCK_SKEW_MS",
    legacyEnv: "MAX_CLOCK_SKEW_MS",
    help: "largest lead over this node's clock an LWW timestamp may have (further ahead: 400, or rejected from peers)",
    fallback: ms(DEFAULTS.maxClockSkewMs),
    option: "maxClockSkewMs",
  },
  minClusterSize: {
    flag: "--min-cluster-size <n>",
    env: "CRDT_MIN_CLUSTER_SIZE",
    legacyEnv: "MIN_CLUSTER_SIZE",
    help: "smallest N for majority/all: set it to the cluster's size so a node restarted cut off from everyone cannot acknowledge alone",
    fallback: String(DEFAULTS.minClusterSize),
    option: "minClusterSize",
  },
  tlsCert: { flag: "--tls-cert <file>", env: "CRDT_HTTP_TLS_CERT", legacyEnv: "HTTP_TLS_CERT", help: "serve the API over HTTPS with this PEM certificate (with --tls-key)" },
  tlsKey: { flag: "--tls-key <file>", env: "CRDT_HTTP_TLS_KEY", legacyEnv: "HTTP_TLS_KEY", help: "PEM private key of --tls-cert" },
  natsUser: { flag: "--nats-user <user>", env: "CRDT_NATS_USER", legacyEnv: "NATS_USER", help: "NATS user name (with --nats-pass)" },
  natsPass: { flag: "--nats-pass <password>", env: "CRDT_NATS_PASS", legacyEnv: "NATS_PASS", help: "NATS password (prefer the variable: flags show in ps)" },
  natsToken: { flag: "--nats-token <token>", env: "CRDT_NATS_TOKEN", legacyEnv: "NATS_TOKEN", help: "NATS token (prefer the variable: flags show in ps)" },
  natsNkey: { flag: "--nats-nkey <file|seed>", env: "CRDT_NATS_NKEY", legacyEnv: "NATS_NKEY", help: "NATS nkey: a file holding the user seed (SU…), or the seed itself (prefer the file)" },
  natsCreds: { flag: "--nats-creds <file>", env: "CRDT_NATS_CREDS", legacyEnv: "NATS_CREDS", help: "NATS .creds file (user JWT and seed), re-read on every reconnect" },
  natsTlsCa: { flag: "--nats-tls-ca <file>", env: "CRDT_NATS_TLS_CA", legacyEnv: "NATS_TLS_CA", help: "PEM CA that signed the NATS servers' certificates (requires TLS)" },
  natsTlsCert: { flag: "--nats-tls-cert <file>", env: "CRDT_NATS_TLS_CERT", legacyEnv: "NATS_TLS_CERT", help: "PEM client certificate for NATS (mutual TLS, with --nats-tls-key)" },
  natsTlsKey: { flag: "--nats-tls-key <file>", env: "CRDT_NATS_TLS_KEY", legacyEnv: "NATS_TLS_KEY", help: "PEM private key of --nats-tls-cert" },
  clusterKey: { flag: "--cluster-key <key>", env: "CRDT_CLUSTER_KEY", legacyEnv: "CLUSTER_KEY", help: "shared secret every message is authenticated with, 32+ bytes (prefer --cluster-key-file)" },
  clusterKeyFile: { flag: "--cluster-key-file <file>", env: "CRDT_CLUSTER_KEY_FILE", legacyEnv: "CLUSTER_KEY_FILE", help: "file holding the cluster key (surrounding whitespace ignored)" },
  nodeKeyFile: { flag: "--node-key-file <file>", env: "CRDT_NODE_KEY_FILE", legacyEnv: "NODE_KEY_FILE", help: "file holding this node's signing key, an nkey seed (with --trusted-keys)" },
  trustedKeys: { flag: "--trusted-keys <file>", env: "CRDT_TRUSTED_KEYS", legacyEnv: "TRUSTED_KEYS", help: 'JSON file of node id → public nkey whose signatures are accepted, e.g. {"east-1":"UA…"}' },
  // HTTP door: Host/Origin checks and the watcher cap.
  allowedHosts: {
    flag: "--allowed-hosts <names>",
    env: "CRDT_ALLOWED_HOSTS",
    legacyEnv: "ALLOWED_HOSTS",
    help: "host names the API answers (421 otherwise), comma-separated, or * for any; IP addresses and localhost always (default: the --http host, or on 0.0.0.0 the machine's host name and the node id)",
  },
  corsOrigins: {
    flag: "--cors-origins <origins>",
    env: "CRDT_CORS_ORIGINS",
    legacyEnv: "CORS_ORIGINS",
    help: "origins (scheme://host[:port]) whose pages may call the API, comma-separated, or * for any (default: none; other origins cannot write, 403)",
  },
  maxWatchers: { flag: "--max-watchers <n>", env: "CRDT_MAX_WATCHERS", legacyEnv: "MAX_WATCHERS", help: "concurrent GET /v1/watch streams (past it: 503)", fallback: "1000" },
  watchBacklog: { flag: "--watch-backlog <n>", env: "CRDT_WATCH_BACKLOG", help: "watch events kept for Last-Event-ID resumes (a watcher further behind gets a reset and a snapshot)", fallback: String(DEFAULT_WATCH_BACKLOG) },
  logLevel: { flag: "--log-level <level>", env: "CRDT_LOG_LEVEL", legacyEnv: "LOG_LEVEL", help: `JSON log lines at this level and above: ${LOG_LEVELS.join(", ")} (requests are logged at debug)`, fallback: "info" },
} satisfies Record<string, Spec>;

type Name = keyof typeof SPECS;
const NAMES = Object.keys(SPECS) as Name[];
/** Settings a config file may not hold: the file itself. */
const FILE_KEYS = NAMES.filter((n) => n !== "config");

function program(): Command {
  const p = new Command("crdt-node")
    .description("A crdt-replicator node: CRDT keys over HTTP, replicated as deltas over NATS.\nEach setting: a flag, a variable [env …], or a key of the --config file (its camelCase name, e.g. tombstoneTtlMs); flag > variable > file > default.")
    .helpOption("-h, --help", "show this help")
    .option("--version", "print crdt-node's version")
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .allowExcessArguments(false);
  for (const [name, s] of Object.entries(SPECS) as [Name, Spec][]) {
    const o = new Option(s.flag, `${s.help} [env ${s.env}${name === "config" ? "" : `, file ${name}`}]${s.fallback === undefined ? "" : ` (default: ${s.fallback})`}`);
    if (name === "remoteDc") o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
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
  if (flags.version === true) return { version: true };

  const fromEnv = (s: Spec): { value: string; legacy: boolean } | undefined => {
    const now = env[s.env];
    if (isSet(now)) return { value: now, legacy: false };
    const old = s.legacyEnv === undefined ? undefined : env[s.legacyEnv];
    return isSet(old) ? { value: old, legacy: true } : undefined;
  };
  const envValues = new Map(NAMES.map((n) => [n, fromEnv(SPECS[n])] as const));
  const configPath = typeof flags.config === "string" ? flags.config : envValues.get("config")?.value;
  const file = configPath === undefined ? new Map<string, FileValue>() : readConfigFile(configPath, FILE_KEYS);

  type Source = "flag" | "env" | "legacy" | "file" | "default";
  const pick = (name: Name): { value: FileValue | undefined; from: Source } => {
    const f = flags[name];
    if (typeof f === "string" || Array.isArray(f)) return { value: f as FileValue, from: "flag" };
    if (f === true) return { value: "true", from: "flag" };
    const e = envValues.get(name);
    if (e !== undefined) return { value: e.value, from: e.legacy ? "legacy" : "env" };
    const v = file.get(name);
    if (v !== undefined) return { value: v, from: "file" };
    return { value: (SPECS[name] as Spec).fallback, from: "default" };
  };
  /** Where each setting's value came from, for messages. */
  const source = new Map<Name, Source>();
  const raw = (name: Name): FileValue | undefined => {
    const { value, from } = pick(name);
    source.set(name, from);
    return value;
  };
  const get = (name: Name): string | undefined => {
    const v = raw(name);
    return Array.isArray(v) ? v.join(",") : v;
  };
  const where = (name: Name): string => {
    const s: Spec = SPECS[name];
    const flag = s.flag.split(" ")[0]!;
    switch (source.get(name)) {
      case "legacy":
        return `${flag} / ${s.legacyEnv}`;
      case "file":
        return `"${name}" in ${configPath} (${flag} / ${s.env})`;
      default:
        return `${flag} / ${s.env}`;
    }
  };
  const int = (name: Name, min = 1, unit = "milliseconds"): number => integer(get(name)!, where(name), min, unit);
  const bool = (name: Name): boolean => boolean(get(name), where(name));

  const nodeId = get("nodeId");
  if (nodeId === undefined) throw new ConfigError(`${where("nodeId")} is required: the node's id, e.g. --node-id east-1 (or "nodeId" in the --config file)`);
  const remotes = raw("remoteDc");
  const remoteArgs = Array.isArray(remotes) ? remotes : splitList(remotes ?? "", /[\s;]+/);
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
    snapshotWriteThrough: bool("snapshotWriteThrough"),
    snapshotSync: bool("snapshotSync"),
    snapshotIntervalMs: int("snapshotIntervalMs"),
    remoteDcs: remoteArgs.map((r) => remoteDc(r, where("remoteDc"), nats.login)),
    xdcIntervalMs: int("xdcIntervalMs"),
    xdcAntiEntropy: bool("xdcAntiEntropy"),
    xdcAntiEntropyIntervalMs: int("xdcAntiEntropyIntervalMs"),
    xdcSendTimeoutMs: int("xdcSendTimeoutMs"),
    role: get("role"),
    readOnly: bool("readOnly"),
    token: get("token"),
    subject: get("subject")!,
    flushIntervalMs: int("flushIntervalMs", 0),
    heartbeatIntervalMs: int("heartbeatIntervalMs"),
    failureTimeoutMs: int("failureTimeoutMs"),
    removalTimeoutMs: int("removalTimeoutMs"),
    antiEntropyIntervalMs: int("antiEntropyIntervalMs"),
    maxDeltaSize: int("maxDeltaSize", 1, "bytes"),
    pruneIntervalMs: int("pruneIntervalMs"),
    tombstoneTtlMs: int("tombstoneTtlMs"),
    pruneRetiredAfterMs: int("pruneRetiredAfterMs", 0),
    pruneMarkerTtlMs: int("pruneMarkerTtlMs"),
    coordinationTimeoutMs: int("coordinationTimeoutMs"),
    maxClockSkewMs: int("maxClockSkewMs"),
    minClusterSize: int("minClusterSize", 1, "members"),
    security: security(secrets, nodeId),
    allowedHosts: hostList(get("allowedHosts"), where("allowedHosts")),
    corsOrigins: originList(get("corsOrigins") ?? "", where("corsOrigins")),
    maxWatchers: int("maxWatchers", 1, "a count"),
    watchBacklog: int("watchBacklog", 1, "events"),
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
    resolveOptions(replicatorOptions(config)); // the library's own checks (ids, DC names, intervals, their relations)
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`invalid configuration: ${inFlagTerms(e.message, where)}`);
    throw e;
  }
  return { config };
}

const isSet = (v: string | undefined): v is string => v !== undefined && v !== "";

/** One line (for stderr) per unprefixed variable of earlier releases that `env` sets, naming its replacement. */
export function deprecatedVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  return (Object.values(SPECS) as Spec[])
    .filter((s) => s.legacyEnv !== undefined && isSet(env[s.legacyEnv]))
    .map((s) => `crdt-node: ${s.legacyEnv} is deprecated: use ${s.env}${isSet(env[s.env]) ? ` (${s.legacyEnv} is ignored: ${s.env} is set)` : ""}`);
}

/**
 * A library message with each option it names replaced by the setting that sets it: camelCase and
 * dotted names anywhere (longest first: `snapshot.intervalMs` before `intervalMs`), a plain word
 * like `subject` only where it opens the message (elsewhere it is prose).
 */
function inFlagTerms(message: string, where: (name: Name) => string): string {
  const options = (Object.entries(SPECS) as [Name, Spec][]).filter(([, s]) => s.option !== undefined).sort(([, a], [, b]) => b.option!.length - a.option!.length);
  let out = message;
  for (const [name, s] of options) {
    const word = s.option!.replace(".", "\\.");
    out = out.replace(new RegExp(/[A-Z.]/.test(s.option!) ? `(?<![\\w.])${word}(?!\\w)` : `^${word}(?!\\w)`, "g"), where(name));
  }
  return out;
}

/** The `Replicator.start` options a config stands for (without transport and meter provider). */
export function replicatorOptions(c: NodeConfig) {
  return {
    nodeId: c.nodeId,
    dataCenter: c.dataCenter,
    role: c.role,
    nats: { servers: c.nats, name: `crdt-node ${c.nodeId}`, ...c.natsLogin },
    ...(Object.fromEntries(TUNING.map((name) => [name, c[name]])) as Tuning),
    security: c.security,
    snapshot: c.snapshotDir === undefined ? undefined : { dir: c.snapshotDir, intervalMs: c.snapshotIntervalMs, writeThrough: c.snapshotWriteThrough, sync: c.snapshotSync },
    dataCenterReplication:
      c.remoteDcs.length === 0
        ? undefined
        : {
            remotes: c.remoteDcs.map((r) => ({ name: r.name, servers: r.servers, connection: r.login })),
            intervalMs: c.xdcIntervalMs,
            antiEntropy: c.xdcAntiEntropy,
            antiEntropyIntervalMs: c.xdcAntiEntropyIntervalMs,
            sendTimeoutMs: c.xdcSendTimeoutMs,
          },
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

function integer(s: string, where: string, min: number, unit: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`${where} must be ${min === 0 ? "an integer ≥ 0" : "a positive integer"} (${unit}); got ${JSON.stringify(s)}`);
  }
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
