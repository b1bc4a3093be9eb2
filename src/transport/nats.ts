/**
 * Transport over a NATS connection (@nats-io/transport-node v3).
 *
 * Defaults favour a replication node: reconnect forever, and fail over to another server of the
 * cluster within ~1.5 s when the current one dies or hangs: a hung server (its kernel still holds the
 * connection) is noticed by ping silence (src/transport/liveness.ts), the next server tried is the
 * one tried longest ago (never first the one just lost), a hung server's handshake is given up
 * after 2 s, and requests waiting for a reply are sent again on the new connection
 * (src/transport/resend.ts).
 */
import { readFileSync } from "node:fs";
import {
  AuthorizationError,
  ClosedConnectionError,
  DrainingConnectionError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
  UserAuthenticationExpiredError,
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type Authenticator,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  type Server,
  type Status,
  type Subscription,
} from "@nats-io/transport-node";
import { ConfigError, ConnectionError, InvalidArgumentError, errorMessage } from "../errors.js";
import { LivenessMonitor, type LivenessOptions } from "./liveness.js";
import { InboxRequests } from "./inbox-requests.js";
import { Resender } from "./resend.js";
import {
  RequestFailedError,
  type IncomingMessage,
  type MessageHandler,
  type SubscribeOptions,
  type Transport,
  type TransportStatus,
} from "./types.js";

/**
 * How to reach NATS. Names follow the NATS client options; durations are milliseconds. Give every
 * server of the cluster in `servers` (the ones the cluster advertises are added too, unless
 * `ignoreClusterUpdates`).
 */
export interface NatsConnectionOptions {
  servers: string | string[];
  /** Client name shown in the server's monitoring pages. */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** NKey seed ("SU..."), for servers configured with nkey users. */
  nkey?: string | Uint8Array;
  /** Contents of a `.creds` file (JWT + seed). */
  creds?: string | Uint8Array;
  /** Path of a `.creds` file; re-read on every (re)connect so rotated credentials are picked up. */
  credsFile?: string;
  /** Custom authenticator(s), combined with the above. */
  authenticator?: Authenticator | Authenticator[];
  tls?: NodeConnectionOptions["tls"];
  /** Per-server reconnect attempts; -1 (default) retries forever. */
  maxReconnectAttempts?: number;
  /** Least wait before the same server is dialled again (default 250). */
  reconnectTimeWait?: number;
  /** Random extra wait, spreads a cluster's reconnects (default 100; TLS default 250). */
  reconnectJitter?: number;
  reconnectJitterTLS?: number;
  /**
   * Ping period while connected (default 500). After `maxPingOut` (default 2) unanswered pings with
   * nothing else heard from the server, it is taken as hung and the client moves to another
   * server: a hung server is left within (maxPingOut + 1) × pingInterval, 1.5 s by default. Any
   * message received counts as an answer, so a busy connection is not mistaken for a dead one.
   */
  pingInterval?: number;
  maxPingOut?: number;
  /**
   * Handshake timeout of one connection attempt (default 2000). A hung server is tried again only
   * after every other server, so this bounds failover only when several hang; it also runs on the
   * client's event loop, so a process busy for longer than this fails its (first) connect.
   */
  timeout?: number;
  /** Use only `servers`, not the servers the cluster advertises (default false: use both). */
  ignoreClusterUpdates?: boolean;
  /** Dial `servers` in the order given (default false: shuffled, so a cluster's clients spread). */
  noRandomize?: boolean;
  /** Called when a subscription handler throws (default: logged, throttled). */
  onHandlerError?: (error: unknown, subject: string) => void;
}

/** Defaults of the options above that this module sets (others are the NATS client's). */
const NATS_DEFAULTS = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  reconnectJitter: 100,
  reconnectJitterTLS: 250,
  pingInterval: 500,
  maxPingOut: 2,
  timeout: 2000,
} as const;

/** Borrow an existing connection: `close()` then leaves it open. */
export interface BorrowedNatsConnection {
  connection: NatsConnection;
  onHandlerError?: (error: unknown, subject: string) => void;
}

/**
 * A NATS transport for `Replicator.start({ transport })`: connects with `options` (the same as the
 * replicator's `nats` option), or wraps a borrowed connection. For a process that reports the
 * connection's state itself (the daemon's readiness); `Replicator.start({ nats })` connects alone.
 */
export async function connectNats(
  options: NatsConnectionOptions | BorrowedNatsConnection,
): Promise<NatsTransport> {
  if ("connection" in options) {
    return new NatsTransport(options.connection, { owned: false, onHandlerError: options.onHandlerError });
  }
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  if (servers.length === 0 || servers.some((s) => typeof s !== "string" || s.trim() === "")) {
    throw new ConnectionError("NATS servers must be a non-empty list of URLs (e.g. nats://127.0.0.1:4222)");
  }
  const liveness = livenessOptions(options);
  let nc: NatsConnection;
  try {
    nc = await connect(toClientOptions(options, servers));
  } catch (err) {
    throw describeConnectFailure(servers, err);
  }
  return new NatsTransport(nc, { owned: true, onHandlerError: options.onHandlerError, liveness });
}

function livenessOptions(o: NatsConnectionOptions): LivenessOptions {
  const pingInterval = o.pingInterval ?? NATS_DEFAULTS.pingInterval;
  const maxPingOut = o.maxPingOut ?? NATS_DEFAULTS.maxPingOut;
  if (!(Number.isInteger(pingInterval) && pingInterval > 0)) {
    throw new ConfigError(`nats.pingInterval must be a positive integer (ms), got ${pingInterval}`);
  }
  if (!(Number.isInteger(maxPingOut) && maxPingOut > 0)) {
    throw new ConfigError(`nats.maxPingOut must be a positive integer, got ${maxPingOut}`);
  }
  return { pingInterval, maxPingOut };
}

/**
 * Which server to dial next: the one tried longest ago. The NATS client would retry the server it
 * just lost first, which costs a whole handshake timeout when that server hung; this tries every
 * other server first, in pool order (randomized) among the never tried. `null`: the client's choice.
 */
export function leastRecentlyTried(pool: readonly Server[]): Server | null {
  let pick = pool[0];
  for (const s of pool) if (pick === undefined || s.lastConnect < pick.lastConnect) pick = s;
  return pick === undefined || pick === pool[0] ? null : pick;
}

function toClientOptions(o: NatsConnectionOptions, servers: string[]): NodeConnectionOptions {
  const auth: Authenticator[] = [];
  if (o.authenticator) auth.push(...(Array.isArray(o.authenticator) ? o.authenticator : [o.authenticator]));
  if (o.nkey !== undefined) auth.push(nkeyAuthenticator(toBytes(o.nkey)));
  if (o.creds !== undefined) auth.push(credsAuthenticator(toBytes(o.creds)));
  if (o.credsFile !== undefined) {
    const file = o.credsFile;
    readFileSync(file); // fail now with a clear fs error rather than inside the handshake
    auth.push(credsAuthenticator(() => readFileSync(file)));
  }
  const opts: NodeConnectionOptions = {
    servers,
    maxReconnectAttempts: o.maxReconnectAttempts ?? NATS_DEFAULTS.maxReconnectAttempts,
    reconnectTimeWait: o.reconnectTimeWait ?? NATS_DEFAULTS.reconnectTimeWait,
    reconnectJitter: o.reconnectJitter ?? NATS_DEFAULTS.reconnectJitter,
    reconnectJitterTLS: o.reconnectJitterTLS ?? NATS_DEFAULTS.reconnectJitterTLS,
    // pingInterval/maxPingOut drive our LivenessMonitor; the client's own pings (every 2 min, PONGs
    // only) stay a backstop.
    timeout: o.timeout ?? NATS_DEFAULTS.timeout,
    ignoreClusterUpdates: o.ignoreClusterUpdates ?? false,
    noRandomize: o.noRandomize ?? false,
    reconnectToServer: leastRecentlyTried,
    // A node ignores what it published itself: do not have the server send it back.
    noEcho: true,
  };
  if (o.name !== undefined) opts.name = o.name;
  if (o.user !== undefined) opts.user = o.user;
  if (o.pass !== undefined) opts.pass = o.pass;
  if (o.token !== undefined) opts.token = o.token;
  if (o.tls !== undefined) opts.tls = o.tls;
  if (auth.length > 0) opts.authenticator = auth;
  return opts;
}

function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? new TextEncoder().encode(v) : v;
}

/** Never echo passwords embedded in URLs (nats://user:pass@host) into error messages. */
export function redact(server: string): string {
  return server.replace(/\/\/[^@/]*@/, "//***@");
}

function describeConnectFailure(servers: string[], err: unknown): ConnectionError {
  const where = servers.map(redact).join(", ");
  const detail = errorMessage(err);
  if (err instanceof AuthorizationError || err instanceof UserAuthenticationExpiredError) {
    return new ConnectionError(
      `NATS authentication failed at ${where}: ${detail} (check user/pass, token, nkey or creds)`,
      { cause: err },
    );
  }
  const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
  return new ConnectionError(`NATS server unreachable at ${where}: ${detail}${cause}`, { cause: err });
}

const LOG_EVERY_MS = 5000;
const DRAIN_TIMEOUT_MS = 5000;

export class NatsTransport implements Transport {
  private readonly owned: boolean;
  private readonly subs = new Set<Subscription>();
  private readonly listeners = new Set<(s: TransportStatus) => void>();
  private readonly statusIter: AsyncIterable<Status> & { stop?: () => void };
  private readonly onHandlerError: (error: unknown, subject: string) => void;
  private readonly resender = new Resender();
  private readonly requests: InboxRequests;
  private readonly liveness: LivenessMonitor | undefined;
  /** outBytes of a borrowed connection before we got it: not ours. */
  private readonly baseOutBytes: number;
  private lastMaxPayload: number;
  private closed = false;
  private lastLog = 0;
  /** Handler exceptions caught so far (they never kill a subscription). */
  handlerErrors = 0;

  constructor(
    readonly connection: NatsConnection,
    options: {
      owned: boolean;
      onHandlerError?: ((error: unknown, subject: string) => void) | undefined;
      /** Watch for a hung server (connections we configured; a borrowed one keeps its own settings). */
      liveness?: LivenessOptions;
    },
  ) {
    this.owned = options.owned;
    this.requests = new InboxRequests(connection);
    this.liveness = options.liveness && new LivenessMonitor(connection, options.liveness);
    this.onHandlerError = options.onHandlerError ?? ((e, s) => this.logHandlerError(e, s));
    this.baseOutBytes = connection.stats().outBytes;
    this.lastMaxPayload = connection.info?.max_payload ?? 1024 * 1024;
    this.statusIter = connection.status();
    void this.watchStatus();
    void connection.closed().then((err) => {
      this.liveness?.stop();
      if (!this.closed) this.emit(err ? { type: "closed", error: err } : { type: "closed" });
      this.closed = true;
    });
  }

  get maxPayload(): number {
    // info is undefined once closed, and may change when reconnecting to another server.
    const current = this.connection.info?.max_payload;
    if (current !== undefined) this.lastMaxPayload = current;
    return this.lastMaxPayload;
  }

  get bytesOut(): number {
    return this.connection.stats().outBytes - this.baseOutBytes;
  }

  publish(subject: string, data: Uint8Array): void {
    this.checkPayload(data);
    this.connection.publish(subject, data);
  }

  respond(reply: string, data: Uint8Array): void {
    this.publish(reply, data);
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): () => void {
    this.checkOpen();
    const sub = this.connection.subscribe(subject, {
      ...(options?.queue !== undefined ? { queue: options.queue } : {}),
      // Callback subscriptions skip the async-iterator queue: one call per message, no promises.
      callback: (err: Error | null, msg: Msg) => {
        if (err) {
          // Terminal for this subscription (e.g. permissions violation): report, keep the node alive.
          this.handlerErrors++;
          this.onHandlerError(err, subject);
          return;
        }
        try {
          handler(new NatsMessage(msg));
        } catch (e) {
          // An exception thrown here would unwind into the client's protocol parser.
          this.handlerErrors++;
          this.onHandlerError(e, subject);
        }
      },
    });
    this.subs.add(sub);
    return () => {
      if (!this.subs.delete(sub)) return;
      try {
        sub.unsubscribe();
      } catch {
        // already closed with the connection
      }
    };
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) throw new RequestFailedError(`request on ${subject}: transport closed`, "closed");
    this.checkPayload(data);
    try {
      return await this.resender.request(Math.max(1, timeoutMs), (ms) => this.requests.request(subject, data, ms));
    } catch (err) {
      throw toRequestFailure(subject, timeoutMs, err);
    }
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.liveness?.stop();
    this.requests.close();
    if (this.owned) {
      // drain: deliver what is queued, flush what we published, then close. A link that is silently
      // dead could hold the drain until ping detection; past a deadline, close without draining.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), DRAIN_TIMEOUT_MS)));
      const outcome = await Promise.race([this.connection.drain().catch(() => "failed" as const), deadline]);
      clearTimeout(timer);
      if (outcome !== undefined) await this.connection.close().catch(() => {});
    } else {
      const subs = [...this.subs];
      this.subs.clear();
      await Promise.allSettled(subs.map((s) => s.drain()));
      this.statusIter.stop?.();
    }
    this.emit({ type: "closed" });
    this.listeners.clear();
  }

  private async watchStatus(): Promise<void> {
    try {
      for await (const s of this.statusIter) {
        if (s.type === "disconnect") {
          this.liveness?.disconnected();
          this.emit({ type: "disconnect" });
        } else if (s.type === "reconnect") {
          this.liveness?.reconnected();
          this.resender.reconnected();
          this.emit({ type: "reconnect" });
        } else if (s.type === "error" && s.error instanceof PermissionViolationError && s.error.operation === "publish") {
          this.requests.refused(s.error.subject, s.error); // as the client's own requests learn it
        }
      }
    } catch {
      // iterator stopped with an error: the closed() watcher reports it
    }
  }

  private emit(status: TransportStatus): void {
    for (const l of [...this.listeners]) {
      try {
        l(status);
      } catch (e) {
        this.onHandlerError(e, "<status listener>");
      }
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new ConnectionError("NATS transport is closed");
  }

  private checkPayload(data: Uint8Array): void {
    this.checkOpen();
    // Same typed error as the memory transport, before NATS throws its own.
    if (data.byteLength > this.maxPayload) {
      throw new InvalidArgumentError(
        `payload of ${data.byteLength} bytes exceeds the server's max_payload of ${this.maxPayload} bytes`,
      );
    }
  }

  private logHandlerError(error: unknown, subject: string): void {
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) return; // throttled: a poison message must not flood logs
    this.lastLog = now;
    console.error(`crdt-replicator: handler for "${subject}" threw (${this.handlerErrors} so far):`, error);
  }
}

function toRequestFailure(subject: string, timeoutMs: number, err: unknown): unknown {
  if (err instanceof TimeoutError) {
    return new RequestFailedError(`request on ${subject}: no reply within ${timeoutMs} ms`, "timeout");
  }
  if (err instanceof RequestError && err.isNoResponders()) {
    return new RequestFailedError(`request on ${subject}: no responders`, "no-responders");
  }
  if (
    err instanceof ClosedConnectionError ||
    err instanceof DrainingConnectionError ||
    err instanceof RequestError // cancelled, e.g. the connection closed while waiting
  ) {
    return new RequestFailedError(`request on ${subject}: ${err.message}`, "closed");
  }
  return err;
}

/**
 * A received message as handlers see it. The client decodes the subject and the reply subject from
 * bytes when they are read, and the delta subject's handler reads neither: at a thousand messages
 * a second, two UTF-8 decodes a message were a measurable share of a peer's CPU.
 */
class NatsMessage implements IncomingMessage {
  constructor(private readonly msg: Msg) {}

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  get reply(): string | undefined {
    return this.msg.reply || undefined;
  }
}
