/**
 * The daemon's HTTP API (fastify): typed operations on keys, coordinated reads and writes, the SSE
 * watch, the cluster view, stats, Prometheus metrics, health, and the dashboard page.
 * Status codes: 400 malformed, 401 no/bad token, 403 write on a read-only node or from a foreign
 * origin, 404 unknown key, 409 wrong type for the key, 410 deleted key, 413 body too large, 415 body
 * not JSON, 421 Host not served, 503 not ready or too many watchers, 504 coordination timeout (the
 * local write stands). Host, Origin and content-type rules: http-guard.ts.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname } from "node:os";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import {
  type ConsistencyLevel,
  type Crdt,
  type DataKind,
  Key,
  type Replicator,
  CrdtReplicatorError,
  DurableWriteError,
  InvalidArgumentError,
  KeyDeletedError,
  KeyTypeMismatchError,
  ReadTimeoutError,
  ReplicatorClosedError,
  WriteTimeoutError,
} from "../index.js";
import { redact } from "../transport/nats.js";
import { BodyError, parseJsonBody, parseOperation, parseType, typeName, valueKindOf, view } from "./codec-json.js";
import type { NodeConfig } from "./config.js";
import {
  CORS_ALLOW_HEADERS,
  CORS_ALLOW_METHODS,
  changesState,
  defaultAllowedHosts,
  hostAllowed,
  jsonContentTypeProblem,
  originVerdict,
  type HostRule,
  type OriginRule,
} from "./http-guard.js";
import { registerQueueRoutes } from "./http-queues.js";
import { statsOf, type LagWindow } from "./stats.js";
import { SSE_HEADERS, type ChangeFeed } from "./watch.js";

export const BODY_LIMIT = 1024 * 1024;
const MAX_TIMEOUT_MS = 60_000;
/** Seconds a watcher refused for the cap is told to wait. */
const WATCH_RETRY_AFTER_S = 5;

/** What the routes need from the daemon; `live` is undefined until the replicator has started. */
export interface ApiDeps {
  config: NodeConfig;
  live(): Live | undefined;
  /** Why the node is not ready, or undefined when it is. */
  notReady(): string | undefined;
  lag: LagWindow;
  metrics(req: IncomingMessage, res: ServerResponse): void;
  dashboard(): string;
  /** SSE streams still open, ended on shutdown. */
  streams: Set<() => void>;
}

export interface Live {
  r: Replicator;
  feed: ChangeFeed;
}

class HttpError extends CrdtReplicatorError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Clearer words for fastify's own body errors. */
const FASTIFY_MESSAGES: Record<string, (req: FastifyRequest) => string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => `the body is larger than ${BODY_LIMIT} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (req) => jsonContentTypeProblem(req.headers["content-type"]) ?? "unsupported media type",
};

const PUBLIC = new Set(["/healthz", "/readyz", "/", "/favicon.ico"]);

/** `https`: PEM certificate and key to serve HTTPS instead of HTTP. */
export function buildApi(d: ApiDeps, https?: { cert: Buffer; key: Buffer }): FastifyInstance {
  const app = Fastify({ ...(https && { https }), bodyLimit: BODY_LIMIT, routerOptions: { maxParamLength: 4096 }, logger: false, return503OnClosing: true });
  // JSON only (415 otherwise): a cross-site page cannot send it without a CORS preflight.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const problem = jsonContentTypeProblem(req.headers["content-type"]);
    if (problem !== undefined) return done(new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", problem), undefined);
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  const hosts: HostRule = d.config.allowedHosts === "any" ? "any" : new Set(d.config.allowedHosts ?? defaultAllowedHosts(d.config.http.host, hostname(), d.config.nodeId));
  const origins: OriginRule = d.config.corsOrigins === "any" ? "any" : new Set(d.config.corsOrigins);

  app.addHook("onRequest", async (req, reply) => {
    const { host, origin } = req.headers;
    if (!hostAllowed(host, hosts)) {
      throw new HttpError(421, "MISDIRECTED_HOST", `host ${JSON.stringify(host)} is not served here: add its name to --allowed-hosts / ALLOWED_HOSTS`);
    }
    const verdict = originVerdict(origin, host, req.protocol, origins);
    if (verdict === "foreign" && (changesState(req.method) || req.method === "OPTIONS")) {
      throw new HttpError(403, "ORIGIN_REFUSED", `origin ${JSON.stringify(origin)} may not change anything here: add it to --cors-origins / CORS_ORIGINS`);
    }
    if (verdict === "cors") {
      reply.raw.setHeader("access-control-allow-origin", origin!); // on hijacked replies (watch, metrics) too
      reply.raw.setHeader("vary", "Origin");
    }
    if (req.method === "OPTIONS") return; // a preflight carries no token
    const path = req.url.split("?", 1)[0]!;
    if (d.config.token !== undefined && !PUBLIC.has(path) && !authorized(req.headers.authorization, d.config.token)) {
      throw new HttpError(401, "UNAUTHORIZED", "missing or wrong bearer token: send 'Authorization: Bearer <token>'");
    }
    if (d.config.readOnly && (req.method === "POST" || req.method === "DELETE")) {
      throw new HttpError(403, "READ_ONLY", `node ${d.config.nodeId} is a read-only relay: write to a writable node`);
    }
  });

  app.setErrorHandler((error, req, reply) => {
    const [status, code] = classify(error);
    if (error instanceof HttpError) void reply.headers(error.headers);
    const message = FASTIFY_MESSAGES[(error as { code?: string }).code ?? ""]?.(req) ?? (error as Error).message;
    void reply.code(status).send({ error: message, code });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split("?", 1)[0]}`, code: "NO_ROUTE" });
  });

  app.get("/healthz", async () => ({ status: "ok", node: d.config.nodeId }));
  app.get("/readyz", async (_req, reply) => {
    const why = d.notReady();
    return why === undefined ? { ready: true } : reply.code(503).send({ ready: false, reason: why });
  });
  app.get("/metrics", (req, reply) => {
    reply.hijack();
    d.metrics(req.raw, reply.raw);
  });
  app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").send(d.dashboard()));
  app.get("/favicon.ico", async (_req, reply) => reply.code(204).send());
  // CORS preflights (answered with the allowed methods and headers for a configured origin only).
  app.options("*", async (_req, reply) => {
    if (reply.raw.hasHeader("access-control-allow-origin")) {
      void reply.headers({ "access-control-allow-methods": CORS_ALLOW_METHODS, "access-control-allow-headers": CORS_ALLOW_HEADERS, "access-control-max-age": "600" });
      reply.raw.setHeader("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    }
    return reply.code(204).header("allow", `${CORS_ALLOW_METHODS}, OPTIONS`).send();
  });

  app.get("/v1/cluster", async () => cluster(d, need(d)));
  app.get("/v1/stats", async () => {
    const { r, feed } = need(d);
    return { ...statsOf(r, d.lag), watchers: feed.stats() };
  });

  app.get("/v1/keys", async (req) => {
    const prefix = query(req).prefix ?? "";
    return need(d)
      .r.entries()
      .filter((e) => e.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((e) => describeKey(e.key, e.value));
  });

  app.get("/v1/keys/:key", async (req) => {
    const { r, id, q, level } = keyRequest(d, req);
    const stored = held(r, id);
    // Not held here: a coordinated read may still find it on peers, given its type (?type=).
    if (stored === undefined && (level === "local" || q.type === undefined)) throw notFound(id);
    const key = stored
      ? Key.of(id, stored.kind, valueKindOf(stored.value))
      : Key.of(id, parseType(q.type), q.valueType === undefined ? undefined : parseType(q.valueType, "valueType"));
    const value = level === "local" ? r.get(key) : await r.get(key, { readFrom: level, timeoutMs: timeout(q.timeoutMs) });
    if (value === undefined) {
      gone(r, id);
      throw notFound(id);
    }
    return result(id, value);
  });

  app.post("/v1/keys/:key", async (req, reply) => {
    const { r, id, q, level } = keyRequest(d, req);
    const op = parseOperation(req.body);
    const stored = r.entry(id);
    // An ormap remove may omit valueType: it removes from whatever the map holds.
    const valueKind = op.valueKind ?? (stored?.kind === "orMap" ? valueKindOf(stored.value) : undefined);
    if (stored !== undefined && (stored.kind !== op.kind || valueKindOf(stored.value) !== valueKind)) {
      const want = typeLabel(op.kind, valueKind);
      throw new HttpError(409, "TYPE_MISMATCH", `key ${JSON.stringify(id)} holds a ${describeType(stored.value)}, not a ${want}`);
    }
    const key = Key.of(id, op.kind, valueKind);
    try {
      const value = await r.update(key, op.modify, { writeTo: level, timeoutMs: timeout(q.timeoutMs) });
      return result(id, value);
    } catch (e) {
      if (!(e instanceof WriteTimeoutError)) throw e;
      const local = r.get(key);
      return reply.code(504).send({ error: e.message, code: "COORDINATION_TIMEOUT", ...(local ? result(id, local) : { key: id }) });
    }
  });

  app.delete("/v1/keys/:key", async (req, reply) => {
    const { r, id, q, level } = keyRequest(d, req);
    const stored = held(r, id);
    if (stored === undefined) throw notFound(id);
    const key = Key.of(id, stored.kind, valueKindOf(stored.value));
    try {
      await r.delete(key, { writeTo: level, timeoutMs: timeout(q.timeoutMs) });
    } catch (e) {
      if (!(e instanceof WriteTimeoutError)) throw e;
      return reply.code(504).send({ error: e.message, code: "COORDINATION_TIMEOUT", key: id, deleted: true });
    }
    return { key: id, deleted: true };
  });

  registerQueueRoutes(app, () => need(d).r);

  app.get("/v1/watch", (req, reply) => {
    const { feed } = need(d);
    const q = query(req);
    if (!feed.admit()) {
      const { max } = feed.stats();
      const message = `node ${d.config.nodeId} serves ${max} watchers already: retry later, or raise --max-watchers / MAX_WATCHERS`;
      throw new HttpError(503, "TOO_MANY_WATCHERS", message, { "retry-after": String(WATCH_RETRY_AFTER_S) });
    }
    if (req.method === "HEAD") return reply.headers(SSE_HEADERS).send(); // the headers a GET would get, no stream
    reply.hijack();
    const stop = feed.watch(reply.raw, q.prefix ?? "", q.initial === "1" || q.initial === "true");
    d.streams.add(stop);
    reply.raw.on("close", () => d.streams.delete(stop));
  });

  return app;
}

// ------------------------------------------------------------------ helpers

function need(d: ApiDeps): Live {
  const live = d.live();
  const why = d.notReady();
  if (live === undefined || why !== undefined) throw new HttpError(503, "NOT_READY", `node ${d.config.nodeId} is not ready: ${why ?? "starting"}`);
  return live;
}

/** What every /v1/keys/:key route starts with: the live node, the key id, the query and its consistency level. */
function keyRequest(d: ApiDeps, req: FastifyRequest): Live & { id: string; q: Record<string, string | undefined>; level: ConsistencyLevel } {
  const live = need(d);
  const id = param(req);
  const q = query(req);
  return { ...live, id, q, level: consistency(q.consistency) };
}

function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+)\s*$/i.exec(header ?? "");
  if (m === null) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function classify(error: unknown): [number, string] {
  if (error instanceof HttpError) return [error.status, error.code];
  if (error instanceof BodyError || error instanceof InvalidArgumentError) return [400, "BAD_REQUEST"];
  if (error instanceof KeyTypeMismatchError) return [409, "TYPE_MISMATCH"];
  if (error instanceof KeyDeletedError) return [410, "KEY_DELETED"];
  if (error instanceof ReadTimeoutError || error instanceof WriteTimeoutError) return [504, "COORDINATION_TIMEOUT"];
  if (error instanceof ReplicatorClosedError) return [503, "CLOSED"];
  if (error instanceof DurableWriteError) return [500, "NOT_DURABLE"];
  const status = (error as { statusCode?: unknown }).statusCode; // fastify's own: 413, 415, a malformed request
  if (status === 400) return [400, "BAD_REQUEST"];
  if (status === 413) return [413, "BODY_TOO_LARGE"];
  if (status === 415) return [415, "UNSUPPORTED_MEDIA_TYPE"];
  if (typeof status === "number" && status > 400 && status < 600) return [status, String((error as { code?: unknown }).code ?? "ERROR")];
  return [500, "INTERNAL"];
}

function query(req: FastifyRequest): Record<string, string | undefined> {
  const q = req.query as Record<string, unknown>;
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(q)) {
    if (Array.isArray(v)) throw new HttpError(400, "BAD_REQUEST", `query parameter ${k} is given more than once`);
    out[k] = v as string;
  }
  return out;
}

function param(req: FastifyRequest): string {
  const id = (req.params as { key: string }).key;
  try {
    Key.of(id, "flag"); // the library's key-id rules (non-empty, ≤ 1 KiB, well-formed)
  } catch (e) {
    throw new HttpError(400, "BAD_KEY", (e as Error).message);
  }
  return id;
}

function consistency(v: string | undefined): ConsistencyLevel {
  if (v === undefined || v === "local" || v === "majority" || v === "all") return v ?? "local";
  if (/^[1-9]\d{0,3}$/.test(v)) return { count: Number(v) };
  throw new HttpError(400, "BAD_REQUEST", `consistency must be local, majority, all or a number of nodes; got ${JSON.stringify(v)}`);
}

function timeout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_TIMEOUT_MS) throw new HttpError(400, "BAD_REQUEST", `timeoutMs must be 1..${MAX_TIMEOUT_MS}; got ${JSON.stringify(v)}`);
  return n;
}

function notFound(id: string): HttpError {
  return new HttpError(404, "NOT_FOUND", `key ${JSON.stringify(id)} not found`);
}

/** Throw 410 when the key is deleted (a tombstone is held). */
function gone(r: Replicator, id: string): void {
  const t = r.deletion(id);
  if (t !== undefined) {
    throw new HttpError(410, "KEY_DELETED", `key ${JSON.stringify(id)} was deleted at ${new Date(t.deletedAtMs).toISOString()} by ${t.originNode}`);
  }
}

/** The value held here under `id`; when none, 410 if the key is deleted. */
function held(r: Replicator, id: string): { kind: DataKind; value: Crdt } | undefined {
  const stored = r.entry(id);
  if (stored === undefined) gone(r, id);
  return stored;
}

/** A type as the API names it, e.g. `ormap<orset>`. */
function typeLabel(kind: DataKind, valueKind: DataKind | undefined): string {
  return `${typeName(kind)}${valueKind ? `<${typeName(valueKind)}>` : ""}`;
}

function describeType(value: Crdt): string {
  return typeLabel(value.kind, valueKindOf(value));
}

function describeKey(id: string, value: Crdt): { key: string; type: string; valueType?: string } {
  const vk: DataKind | undefined = valueKindOf(value);
  return { key: id, type: typeName(value.kind), ...(vk ? { valueType: typeName(vk) } : {}) };
}

function result(id: string, value: Crdt): Record<string, unknown> {
  return { ...describeKey(id, value), ...view(value) };
}

function cluster(d: ApiDeps, { r }: Live): Record<string, unknown> {
  const leader = r.leader();
  const members = r.members().map((m) => ({ ...m, leader: m.node === leader && m.dataCenter === r.options.dataCenter }));
  return {
    node: r.nodeId,
    dataCenter: r.options.dataCenter,
    role: r.options.role ?? null,
    readOnly: d.config.readOnly,
    leader: leader ?? null,
    isLeader: r.isLeader,
    members,
    remotes: d.config.remoteDcs.map((x) => ({ name: x.name, servers: x.servers.map(redact) })),
  };
}

