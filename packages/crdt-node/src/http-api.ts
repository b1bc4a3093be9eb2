/**
 * The HTTP API as a fastify plugin: typed operations on keys, coordinated reads and writes, the
 * SSE watch, the cluster view and stats. crdt-node mounts it (http-server.ts adds the door checks,
 * health, metrics, the dashboard and /openapi.json); an application mounts it in its own server:
 *
 *     app.register(crdtApi, { replicator, prefix: "/crdt" })
 *
 * It is encapsulated: its JSON-only body parser, validators and error answers apply to its routes,
 * not to the application's. Routes are described by schemas.ts (validation, OpenAPI, the client).
 * Status codes: 400 malformed, 403 write on a read-only node, 404 unknown key, 409 wrong type for
 * the key, 410 deleted key, 413 body too large, 415 body not JSON, 503 not ready or too many
 * watchers, 504 coordination timeout (the local write stands).
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { TypeBoxValidatorCompiler } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyPluginAsync, FastifySchemaCompiler } from "fastify";
import fp from "fastify-plugin";
import { type TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { type ConsistencyLevel, type Crdt, type DataKind, Key, redact, type Replicator, WriteTimeoutError } from "crdt-replicator";
import { parseJsonBody, parseOperation, parseType, typeName, valueKindOf, view, type Operation } from "./codec-json.js";
import { BODY_LIMIT, HttpError, replyError } from "./http-errors.js";
import { jsonContentTypeProblem } from "./http-guard.js";
import { registerLockRoutes } from "./http-locks.js";
import { registerQueueRoutes } from "./http-queues.js";
import { compareKeys, keysPage } from "./keys-page.js";
import * as S from "./schemas.js";
import { LagWindow, recordLag, statsOf } from "./stats.js";
import { ChangeFeed, SSE_HEADERS } from "./watch.js";
import { DEFAULT_WATCH_BACKLOG } from "./watch-backlog.js";

/** Seconds a watcher refused for the cap is told to wait. */
const WATCH_RETRY_AFTER_S = 5;
export const DEFAULT_MAX_WATCHERS = 1000;

export interface CrdtApiOptions {
  /** The replicator served, or a function giving it once started (undefined until then: 503). */
  replicator: Replicator | (() => Replicator | undefined);
  /** Why the node is not ready (503 on every route), or undefined when it is. Default: ready once there is a replicator. */
  notReady?: () => string | undefined;
  /** The node's id in messages before the replicator has started; default: the replicator's. */
  nodeId?: string;
  /** A read-only relay: writes are refused (403). Default false. */
  readOnly?: boolean;
  /** Concurrent `GET /v1/watch` streams; past it: 503. Default 1000. */
  maxWatchers?: number;
  /** Watch events kept for `Last-Event-ID` resumes. Default 10000. */
  watchBacklog?: number;
  /** Remote DCs `GET /v1/cluster` lists (their server URLs are shown without credentials). */
  remotes?: { name: string; servers: string[] }[];
  /** Replication-lag samples for `/v1/stats`; default: the plugin's own, recorded from its first request. */
  lag?: LagWindow;
}

interface Live {
  r: Replicator;
  feed: ChangeFeed;
}

const api: FastifyPluginAsync<CrdtApiOptions> = async (plain, o) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const replicator = typeof o.replicator === "function" ? o.replicator : () => o.replicator as Replicator;
  const lag = o.lag ?? new LagWindow();
  let live: Live | undefined;
  const nodeId = (): string => o.nodeId ?? replicator()?.nodeId ?? "(starting)";
  /** The replicator and its change feed; 503 until both the replicator and the caller's readiness say so. */
  const need = (): Live => {
    const r = replicator();
    const why = o.notReady?.() ?? (r === undefined ? "starting" : undefined);
    if (r === undefined || why !== undefined) throw new HttpError(503, "NOT_READY", `node ${nodeId()} is not ready: ${why ?? "starting"}`);
    if (live?.r !== r) {
      live?.feed.close();
      if (o.lag === undefined) recordLag(r, lag);
      live = { r, feed: new ChangeFeed(r, o.maxWatchers ?? DEFAULT_MAX_WATCHERS, o.watchBacklog ?? DEFAULT_WATCH_BACKLOG) };
    }
    return live;
  };
  app.addHook("preClose", async () => live?.feed.close()); // open watch streams would hold the server open

  onlyJsonBodies(plain);
  app.setValidatorCompiler(TypeBoxValidatorCompiler); // requests are checked by their schemas
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(replyError);
  app.addHook("onRequest", async (req) => {
    if (o.readOnly === true && (req.method === "POST" || req.method === "DELETE")) {
      throw new HttpError(403, "READ_ONLY", `node ${nodeId()} is a read-only relay: write to a writable node`);
    }
    need();
  });

  app.get("/v1/cluster", { schema: { summary: "This node's view of its cluster", tags: ["cluster"], response: { 200: S.ClusterView, ...S.COMMON_ERRORS } } }, async () => {
    const { r } = need();
    const leader = r.leader();
    return {
      node: r.nodeId,
      dataCenter: r.options.dataCenter,
      role: r.options.role ?? null,
      readOnly: o.readOnly === true,
      leader: leader ?? null,
      isLeader: r.isLeader,
      members: r.members().map((m) => ({ ...m, leader: m.node === leader && m.dataCenter === r.options.dataCenter })),
      remotes: (o.remotes ?? []).map((x) => ({ name: x.name, servers: x.servers.map(redact) })),
    };
  });

  app.get("/v1/stats", { schema: { summary: "Counters, replication lag and watchers", tags: ["cluster"], response: { 200: S.Stats, ...S.COMMON_ERRORS } } }, async () => {
    const { r, feed } = need();
    return { ...statsOf(r, lag), watchers: feed.stats() };
  });

  app.get(
    "/v1/keys",
    {
      schema: {
        summary: "The keys this node holds, with their types",
        description: `In key order. With limit or cursor: a page ({ keys, nextCursor }); without: every key at once, as an array (deprecated: page instead).`,
        tags: ["keys"],
        querystring: S.KeysQuery,
        response: { 200: S.KeysAnswer, 400: S.ErrorBody, ...S.COMMON_ERRORS },
      },
    },
    async (req) => {
      const { prefix = "", limit, cursor } = req.query;
      const { r } = need();
      const sorted = r.keys().filter((k) => k.startsWith(prefix)).sort(compareKeys);
      const info = (id: string): S.KeyInfoBody => describeKey(id, r.entry(id)!.value);
      if (limit === undefined && cursor === undefined) return sorted.map(info);
      const page = keysPage(sorted, prefix, limit ?? S.KEYS_PAGE_DEFAULT, cursor);
      return { keys: page.keys.map(info), nextCursor: page.nextCursor };
    },
  );

  const keyErrors = { 400: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody, 410: S.ErrorBody, ...S.COMMON_ERRORS };

  app.get(
    "/v1/keys/:key",
    {
      schema: {
        summary: "Read a key",
        description: "consistency other than local first asks that many nodes and merges their answers (read repair); a key this node does not hold is looked for on them, of whatever type they hold (or of ?type=).",
        tags: ["keys"],
        params: S.KeyParams,
        querystring: S.ReadQuery,
        response: { 200: S.KeyValue, ...keyErrors, 504: S.ErrorBody },
      },
    },
    async (req) => {
      const { r } = need();
      const id = keyId(req.params.key);
      const q = req.query;
      const level = consistency(q.consistency);
      const stored = held(r, id);
      if (stored === undefined && level === "local") throw notFound(id);
      let value: Crdt | undefined;
      if (stored !== undefined) {
        const key = Key.of(id, stored.kind, valueKindOf(stored.value));
        value = level === "local" ? r.get(key) : await r.get(key, { readFrom: level, timeoutMs: q.timeoutMs });
      } else if (q.type !== undefined) {
        const key = Key.of(id, parseType(q.type), q.valueType === undefined ? undefined : parseType(q.valueType, "valueType"));
        value = await r.get(key, { readFrom: level, timeoutMs: q.timeoutMs });
      } else {
        value = (await r.readEntry(id, { readFrom: level, timeoutMs: q.timeoutMs }))?.value;
      }
      if (value === undefined) {
        gone(r, id);
        throw notFound(id);
      }
      return result(id, value);
    },
  );

  app.post(
    "/v1/keys/:key",
    {
      bodyLimit: BODY_LIMIT,
      validatorCompiler: operationValidator,
      schema: {
        summary: "Apply an operation to a key",
        description: "Returns the key's value after the operation. Type names are matched case-insensitively.",
        tags: ["keys"],
        params: S.KeyParams,
        querystring: S.CoordinatedQuery,
        body: S.Operation,
        response: { 200: S.KeyValue, ...keyErrors, 413: S.ErrorBody, 415: S.ErrorBody, 504: S.WriteTimeout },
      },
    },
    async (req, reply) => {
      const { r } = need();
      const id = keyId(req.params.key);
      const level = consistency(req.query.consistency);
      const op = parsed.get(req.body as object) ?? parseOperation(req.body); // the body's validator parsed it
      const stored = r.entry(id);
      // An ormap remove may omit valueType: it removes from whatever the map holds.
      const valueKind = op.valueKind ?? (stored?.kind === "orMap" ? valueKindOf(stored.value) : undefined);
      if (stored !== undefined && (stored.kind !== op.kind || valueKindOf(stored.value) !== valueKind)) {
        const want = typeLabel(op.kind, valueKind);
        throw new HttpError(409, "TYPE_MISMATCH", `key ${JSON.stringify(id)} holds a ${describeType(stored.value)}, not a ${want}`);
      }
      const key = Key.of(id, op.kind, valueKind);
      try {
        const value = await r.update(key, op.modify, { writeTo: level, timeoutMs: req.query.timeoutMs });
        return result(id, value);
      } catch (e) {
        if (!(e instanceof WriteTimeoutError)) throw e;
        const local = r.get(key);
        return reply.code(504).send({ error: e.message, code: "COORDINATION_TIMEOUT", ...(local ? result(id, local) : { key: id }) });
      }
    },
  );

  app.delete(
    "/v1/keys/:key",
    {
      schema: {
        summary: "Delete a key everywhere",
        description: "A tombstone replaces the key: reads answer 410 and writes are refused until it expires.",
        tags: ["keys"],
        params: S.KeyParams,
        querystring: S.CoordinatedQuery,
        response: { 200: S.Deleted, ...keyErrors, 504: S.WriteTimeout },
      },
    },
    async (req, reply) => {
      const { r } = need();
      const id = keyId(req.params.key);
      const stored = held(r, id);
      if (stored === undefined) throw notFound(id);
      const key = Key.of(id, stored.kind, valueKindOf(stored.value));
      try {
        await r.delete(key, { writeTo: consistency(req.query.consistency), timeoutMs: req.query.timeoutMs });
      } catch (e) {
        if (!(e instanceof WriteTimeoutError)) throw e;
        return reply.code(504).send({ error: e.message, code: "COORDINATION_TIMEOUT", key: id, deleted: true });
      }
      return { key: id, deleted: true as const };
    },
  );

  app.get(
    "/v1/watch",
    {
      schema: {
        summary: "Changes as Server-Sent Events",
        description:
          "Events: snapshot (with ?initial=1: the current value of each key), change, delete, and reset (a Last-Event-ID that cannot be resumed: a snapshot of the current state follows and replaces the watcher's). Every event has an id; send the last one as Last-Event-ID to resume after it.",
        tags: ["watch"],
        querystring: S.WatchQuery,
        headers: S.WatchHeaders,
        response: {
          200: { description: "an event stream: event snapshot|change|delete with data WatchChange, event reset with data WatchReset", content: { "text/event-stream": { schema: S.WatchEventData } } },
          ...S.COMMON_ERRORS,
        },
      },
    },
    (req, reply) => {
      const { feed } = need();
      if (!feed.admit()) {
        const { max } = feed.stats();
        const message = `node ${nodeId()} serves ${max} watchers already: retry later, or raise --max-watchers / MAX_WATCHERS`;
        throw new HttpError(503, "TOO_MANY_WATCHERS", message, { "retry-after": String(WATCH_RETRY_AFTER_S) });
      }
      if (req.method === "HEAD") {
        void reply.headers(SSE_HEADERS).send(undefined as never); // the headers a GET would get, no stream
        return;
      }
      reply.hijack();
      const { prefix = "", initial } = req.query;
      const lastEventId = req.headers["last-event-id"] ?? req.query.lastEventId;
      feed.watch(reply.raw, prefix, { initial: initial === "1" || initial === "true", ...(lastEventId === undefined ? {} : { lastEventId }) });
    },
  );

  registerLockRoutes(app, () => need().r);
  registerQueueRoutes(app, () => need().r);
};

/** The plugin: `app.register(crdtApi, { replicator, ...options })`. */
export const crdtApi = fp(api, { name: "crdt-api", fastify: "5.x", encapsulate: true });

// ------------------------------------------------------------------ helpers

/** JSON bodies only (415 otherwise): a cross-site page cannot send JSON without a CORS preflight. */
export function onlyJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer", bodyLimit: BODY_LIMIT }, (req, body, done) => {
    const problem = jsonContentTypeProblem(req.headers["content-type"]);
    if (problem !== undefined) return done(new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", problem), undefined);
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}

/**
 * A write's body is checked first by the data types' own parser, whose messages name the field and
 * the operations that exist, then by its schema (the rest of the request by theirs, as everywhere).
 */
const operationValidator: FastifySchemaCompiler<TSchema> = (route) => {
  if (route.httpPart !== "body") return TypeBoxValidatorCompiler(route);
  const check = Compile(route.schema);
  return (body: unknown) => {
    let op: Operation;
    try {
      op = parseOperation(body);
    } catch (e) {
      return { error: e as Error };
    }
    const normal = normalTypes(body as Record<string, unknown>);
    if (!check.Check(normal)) return { error: check.Errors(normal) as never };
    parsed.set(body as object, op);
    return { value: body };
  };
};

/** Each write body's operation, as its validator parsed it (for the handler). */
const parsed = new WeakMap<object, Operation>();

/** Type names lower-cased (the API matches them case-insensitively; the schema lists them so). */
function normalTypes(b: Record<string, unknown>): Record<string, unknown> {
  const lower = (x: unknown): unknown => (typeof x === "string" ? x.toLowerCase() : x);
  return { ...b, type: lower(b.type), ...(b.valueType === undefined ? {} : { valueType: lower(b.valueType) }) };
}

function keyId(id: string): string {
  try {
    Key.of(id, "flag"); // the library's key-id rules (non-empty, ≤ 1 KiB, well-formed)
  } catch (e) {
    throw new HttpError(400, "BAD_KEY", (e as Error).message);
  }
  return id;
}

function consistency(v: string | undefined): ConsistencyLevel {
  if (v === undefined || v === "local" || v === "majority" || v === "all") return v ?? "local";
  return { count: Number(v) }; // the schema let only a node count through
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

function describeKey(id: string, value: Crdt): S.KeyInfoBody {
  const vk: DataKind | undefined = valueKindOf(value);
  return { key: id, type: typeName(value.kind), ...(vk ? { valueType: typeName(vk) } : {}) };
}

function result(id: string, value: Crdt): S.KeyValueBody {
  return { ...describeKey(id, value), ...view(value) };
}
