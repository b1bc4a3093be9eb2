/**
 * crdt-node's HTTP server: the API plugin (http-api.ts) behind the door checks (http-guard.ts:
 * Host, Origin, the bearer token), with health, readiness, Prometheus metrics, the dashboard page
 * and the OpenAPI document generated from the routes' schemas (`/openapi.json`).
 * Status codes of the door: 401 no/bad token, 403 a foreign origin changing state, 421 Host not
 * served, 404 no such route.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname } from "node:os";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { Type } from "typebox";
import type { Replicator } from "crdt-replicator";
import type { NodeConfig } from "./config.js";
import { RequestLogAtDebug } from "./logging.js";
import { crdtApi, onlyJsonBodies } from "./http-api.js";
import { BODY_LIMIT, HttpError, replyError } from "./http-errors.js";
import {
  CORS_ALLOW_HEADERS,
  CORS_ALLOW_METHODS,
  changesState,
  defaultAllowedHosts,
  hostAllowed,
  originVerdict,
  type HostRule,
  type OriginRule,
} from "./http-guard.js";
import { DOOR_ERRORS, Health, NotReady, Ready } from "./schemas.js";
import type { LagWindow } from "./stats.js";

/** What the server needs from the daemon; `replicator` is undefined until it has started. */
export interface ServerDeps {
  config: NodeConfig;
  replicator(): Replicator | undefined;
  /** Why the node is not ready, or undefined when it is. */
  notReady(): string | undefined;
  /** Replication-lag samples for /v1/stats (default: recorded by the API from its first request). */
  lag?: LagWindow;
  metrics(req: IncomingMessage, res: ServerResponse): void;
  dashboard(): string;
  /** fastify's logger (request lines at debug: logging.ts); none by default. */
  logger?: FastifyBaseLogger;
}

/** Routes answered without the token. */
const PUBLIC = new Set(["/healthz", "/readyz", "/", "/favicon.ico", "/openapi.json"]);

/** The OpenAPI document's fixed parts (the paths come from the routes). */
export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "crdt-node HTTP API",
    version: "1",
    description: "CRDT keys over HTTP, replicated as deltas over NATS. Every error answer is { error, code }.",
  },
  components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "with --token: every route but /healthz, /readyz, / and /openapi.json" } } },
  security: [{}, { bearer: [] }],
} as const;

/** `https`: PEM certificate and key to serve HTTPS instead of HTTP. */
export async function buildServer(d: ServerDeps, https?: { cert: Buffer; key: Buffer }): Promise<FastifyInstance> {
  const app = Fastify({ ...(https && { https }), bodyLimit: BODY_LIMIT, routerOptions: { maxParamLength: 4096 }, ...(d.logger === undefined ? { logger: false } : { loggerInstance: d.logger, logController: new RequestLogAtDebug() }), return503OnClosing: true }).withTypeProvider<TypeBoxTypeProvider>();
  onlyJsonBodies(app);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(swagger, { openapi: OPENAPI_INFO as never });
  // The door's answers, documented on every route (the document is built from these same route objects).
  app.addHook("onRoute", (route) => {
    const schema = route.schema as { hide?: boolean; response?: Record<string, unknown> } | undefined;
    if (schema !== undefined && schema.hide !== true) schema.response = { ...DOOR_ERRORS, ...schema.response };
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
  });

  app.setErrorHandler(replyError);
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split("?", 1)[0]}`, code: "NO_ROUTE" });
  });

  const text = (type: string, description: string) => ({ description, content: { [type]: { schema: Type.String() } } });
  app.get("/healthz", { schema: { summary: "Liveness: the process answers", tags: ["health"], response: { 200: Health } } }, async () => ({ status: "ok" as const, node: d.config.nodeId }));
  app.get("/readyz", { schema: { summary: "Readiness: restored and connected to NATS", tags: ["health"], response: { 200: Ready, 503: NotReady } } }, async (_req, reply) => {
    const why = d.notReady();
    return why === undefined ? { ready: true as const } : reply.code(503).send({ ready: false, reason: why });
  });
  app.get("/metrics", { schema: { summary: "Prometheus metrics", tags: ["health"], response: { 200: text("text/plain", "the Prometheus text format") } } }, (req, reply) => {
    reply.hijack();
    d.metrics(req.raw, reply.raw);
  });
  app.get("/", { schema: { summary: "The dashboard page", tags: ["health"], response: { 200: text("text/html", "the dashboard") } } }, async (_req, reply) =>
    reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").send(d.dashboard()),
  );
  app.get("/favicon.ico", { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
  // CORS preflights (answered with the allowed methods and headers for a configured origin only).
  app.options("*", { schema: { hide: true } }, async (_req, reply) => {
    if (reply.raw.hasHeader("access-control-allow-origin")) {
      void reply.headers({ "access-control-allow-methods": CORS_ALLOW_METHODS, "access-control-allow-headers": CORS_ALLOW_HEADERS, "access-control-max-age": "600" });
      reply.raw.setHeader("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    }
    return reply.code(204).header("allow", `${CORS_ALLOW_METHODS}, OPTIONS`).send();
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  await app.register(crdtApi, {
    replicator: d.replicator,
    notReady: d.notReady,
    nodeId: d.config.nodeId,
    readOnly: d.config.readOnly,
    maxWatchers: d.config.maxWatchers,
    watchBacklog: d.config.watchBacklog,
    remotes: d.config.remoteDcs,
    ...(d.lag === undefined ? {} : { lag: d.lag }),
  });
  return app;
}

function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+)\s*$/i.exec(header ?? "");
  if (m === null) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
