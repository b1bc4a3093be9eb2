/**
 * The crdt-node daemon: HTTP first (so /healthz answers and /readyz says why not yet), then the
 * replicator — connecting with retries, so a node may start before its NATS server — with the
 * OpenTelemetry MeterProvider of telemetry.ts and the JSON logger of logging.ts; ready once
 * restored (Replicator.start restores snapshots before it returns) and connected.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { AuthorizationError, UserAuthenticationExpiredError } from "@nats-io/transport-node";
import { ConnectionError, Replicator, ReplicatorClosedError, connectNats, type Transport } from "crdt-replicator";
import { replicatorOptions, type NodeConfig } from "./config.js";
import { buildServer } from "./http-server.js";
import { createLogger } from "./logging.js";
import { LagWindow, recordLag } from "./stats.js";
import { startTelemetry } from "./telemetry.js";

export interface DaemonOptions {
  /** A ready transport (the in-memory one) instead of connecting to `config.nats`; the caller closes it. */
  transport?: Transport;
  /** Where the JSON log lines go (default: stdout); `() => undefined` silences the node. */
  log?: (line: string) => void;
}

export interface Daemon {
  /** http://host:port the API listens on (the real port when configured with port 0). */
  readonly url: string;
  /** Resolves once the node is ready; rejects when it cannot start (and will not retry). */
  readonly started: Promise<void>;
  /** The node's logger (pino), for the lines of whoever runs the daemon. */
  readonly logger: Logger;
  replicator(): Replicator | undefined;
  close(): Promise<void>;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5_000;

export async function startDaemon(config: NodeConfig, options: DaemonOptions = {}): Promise<Daemon> {
  const logger = createLogger(config.logLevel, config.nodeId, config.dataCenter, options.log);
  const telemetry = startTelemetry(config.telemetry, config.nodeId);
  const meterProvider = telemetry.meterProvider;
  const lag = new LagWindow();
  const dashboard = loadDashboard();
  let live: Replicator | undefined;
  let transport: Transport | undefined;
  let connected = false;
  /** Why the last attempt to start failed, or why NATS closed the connection (e.g. it refused the credentials): shown by /readyz. */
  let failure: string | undefined;
  let closing = false;
  let wake = (): void => undefined; // cuts a retry wait short on close

  const https = config.https && { cert: readFileSync(config.https.certFile), key: readFileSync(config.https.keyFile) };
  const app = await buildServer({
    config,
    replicator: () => live,
    notReady: () =>
      closing ? "shutting down" : live === undefined ? (failure ?? "starting (restoring and connecting)") : connected ? undefined : (failure ?? "NATS disconnected"),
    lag,
    metrics: (req, res) => telemetry.metrics(req, res),
    dashboard: () => dashboard,
    logger,
  }, https);
  await app.listen({ host: config.http.host, port: config.http.port });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : config.http.port;
  const host = config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host;
  const url = `${https === undefined ? "http" : "https"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;

  const start = async (): Promise<void> => {
    for (let wait = RETRY_MIN_MS; !closing; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
      let t: Transport | undefined;
      try {
        const { nats, ...rest } = replicatorOptions(config);
        t = options.transport ?? (await connectNats(nats));
        const r = await Replicator.start({ ...rest, transport: t, meterProvider, logger });
        if (closing) {
          await r.close();
          throw new ReplicatorClosedError("closed while starting");
        }
        transport = t;
        connected = true;
        t.onStatus((s) => {
          connected = s.type === "reconnect" ? true : s.type === "disconnect" || s.type === "closed" ? false : connected;
          if (s.type === "reconnect") failure = undefined;
          // The client gives up reconnecting when the server refuses the credentials twice (e.g. an expired JWT).
          if (s.type === "closed" && !closing && authFailed(s.error)) {
            failure = `NATS authentication failed at ${config.nats.join(", ")}: ${s.error!.message}; the connection is closed: fix the credentials and restart the node`;
            logger.error({ servers: config.nats }, failure);
          }
        });
        recordLag(r, lag);
        live = r;
        return;
      } catch (error) {
        if (t !== undefined && t !== options.transport) await t.close().catch(() => undefined);
        if (!(error instanceof ConnectionError) || closing) throw error;
        failure = authFailed(error) ? error.message : `starting: ${error.message}`;
        logger.warn({ retryInMs: wait }, `${error.message}; retrying in ${wait} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    throw new ReplicatorClosedError("closed before the node was ready");
  };
  const started = start();
  started.catch(() => undefined); // the caller reads it; never an unhandled rejection

  return {
    url,
    started,
    logger,
    replicator: () => live,
    async close() {
      if (closing) return;
      closing = true;
      wake();
      await app.close(); // ends the watch streams first
      await started.catch(() => undefined);
      await live?.close();
      if (transport !== undefined && transport !== options.transport) await transport.close();
      await telemetry.shutdown().catch((error: unknown) => logger.warn({ err: error }, "flushing metrics at shutdown failed"));
    },
  };
}

/**
 * MERGE POINT: the `security` option of Replicator.start (message authentication) is not on this
 * branch yet. Once it is, this returns `{ security: config.security }`; until then a key is refused
 * rather than silently unused.
 */
/** NATS refused the credentials (wrong or expired), as opposed to a server out of reach: the error or its cause. */
function authFailed(error: Error | undefined): boolean {
  return [error, error?.cause].some((e) => e instanceof AuthorizationError || e instanceof UserAuthenticationExpiredError);
}

/** The dashboard page: beside this module in src/, or in src/ when running from dist/. */
function loadDashboard(): string {
  for (const rel of ["./dashboard.html", "../../src/dashboard.html"]) {
    try {
      return readFileSync(new URL(rel, import.meta.url), "utf8");
    } catch {
      // next
    }
  }
  return "<!doctype html><title>crdt-node</title><p>dashboard.html is missing from this installation.";
}
