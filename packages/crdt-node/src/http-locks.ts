/**
 * `/v1/locks/:name`: the JetStream lock over HTTP. HTTP is stateless, so a grant is a lease the
 * client keeps alive: `acquire` answers with a fencing token and the lease left, the client
 * renews with the token before the lease runs out, and releases with it; a client that stops
 * renewing loses the lock `ttlMs` after its last renewal. Whoever presents the token holds the
 * lock. Token and read-only rules are the API's own (http-api.ts): POST and DELETE are writes.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { Type, type Static } from "typebox";
import { ConfigError, LockTimeoutError, type Replicator } from "crdt-replicator";

/** Lease of an HTTP grant when the body names none. */
export const HTTP_LOCK_TTL_MS = 30_000;
const MAX_WAIT_MS = 60_000;

const Params = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256, description: "the lock's name" }) });
const AcquireBody = Type.Object(
  {
    timeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS, description: "how long to wait in the queue; 0 (default) answers at once" })),
    ttlMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000, description: `lease length; renew within it (default ${HTTP_LOCK_TTL_MS})` })),
  },
  { additionalProperties: false },
);
const TokenBody = Type.Object({ fencingToken: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
const TokenQuery = Type.Object({ fencingToken: Type.Integer({ minimum: 1 }) });
const Granted = Type.Object({ name: Type.String(), fencingToken: Type.Integer(), ttlMs: Type.Integer(), expiresInMs: Type.Integer() });
const Released = Type.Object({ name: Type.String(), fencingToken: Type.Integer(), released: Type.Boolean() });
const State = Type.Object({
  name: Type.String(),
  holders: Type.Array(Type.Object({ fencingToken: Type.Integer(), owner: Type.String() })),
  waiting: Type.Integer(),
});
const Problem = Type.Object({ error: Type.String(), code: Type.String() });

type NameParams = Static<typeof Params>;

/** `live` gives the running replicator (it throws the API's 503 while the node is not ready). */
export function registerLockRoutes(app: FastifyInstance, live: () => Replicator): void {
  app.post<{ Params: NameParams; Body: Static<typeof AcquireBody> | undefined }>(
    "/v1/locks/:name/acquire",
    { schema: { params: Params, body: Type.Optional(AcquireBody), response: { 200: Granted, 400: Problem, 409: Problem, 503: Problem } } },
    async (req, reply) => {
      const { name } = req.params;
      const ttlMs = req.body?.ttlMs ?? HTTP_LOCK_TTL_MS;
      const timeoutMs = req.body?.timeoutMs ?? 0;
      return jetstream(reply, async () => {
        const lock = live().distributed().lock(name, { ttlMs, autoRenew: false });
        try {
          const grant = timeoutMs === 0 ? await lock.tryAcquire() : await lock.acquire({ timeoutMs }).catch((e: unknown) => (e instanceof LockTimeoutError ? undefined : Promise.reject(e)));
          if (grant === undefined) {
            return reply.code(409).send({ error: `lock ${JSON.stringify(name)} is held${timeoutMs > 0 ? ` and was not released within ${timeoutMs} ms` : ""}: retry later, or wait with timeoutMs`, code: "LOCK_HELD" });
          }
          // A full lease from now: the client starts counting when it gets the answer.
          const expiresInMs = (await lock.renew(grant.fencingToken))?.expiresInMs ?? 0;
          return { name, fencingToken: grant.fencingToken, ttlMs, expiresInMs: Math.floor(expiresInMs) };
        } finally {
          await lock.close();
        }
      });
    },
  );

  app.post<{ Params: NameParams; Body: Static<typeof TokenBody> }>(
    "/v1/locks/:name/renew",
    { schema: { params: Params, body: TokenBody, response: { 200: Granted, 400: Problem, 409: Problem, 503: Problem } } },
    async (req, reply) => {
      const { name } = req.params;
      const { fencingToken } = req.body;
      return jetstream(reply, async () => {
        const lock = live().distributed().lock(name, { autoRenew: false });
        try {
          const renewal = await lock.renew(fencingToken);
          if (renewal === undefined) return reply.code(409).send(lost(name, fencingToken));
          return { name, fencingToken, ttlMs: renewal.ttlMs, expiresInMs: Math.floor(renewal.expiresInMs) };
        } finally {
          await lock.close();
        }
      });
    },
  );

  app.delete<{ Params: NameParams; Querystring: Static<typeof TokenQuery> }>(
    "/v1/locks/:name",
    { schema: { params: Params, querystring: TokenQuery, response: { 200: Released, 400: Problem, 503: Problem } } },
    async (req, reply) => {
      const { name } = req.params;
      const { fencingToken } = req.query;
      return jetstream(reply, async () => {
        const lock = live().distributed().lock(name, { autoRenew: false });
        try {
          return { name, fencingToken, released: await lock.release(fencingToken) };
        } finally {
          await lock.close();
        }
      });
    },
  );

  app.get<{ Params: NameParams }>("/v1/locks/:name", { schema: { params: Params, response: { 200: State, 400: Problem, 503: Problem } } }, async (req, reply) => {
    const { name } = req.params;
    return jetstream(reply, async () => {
      const lock = live().distributed().lock(name, { autoRenew: false });
      try {
        const { holders, waiting } = await lock.inspect();
        return { name, holders: holders.map(({ fencingToken, owner }) => ({ fencingToken, owner })), waiting };
      } finally {
        await lock.close();
      }
    });
  });
}

function lost(name: string, fencingToken: number): Static<typeof Problem> {
  return { error: `lock ${JSON.stringify(name)} is not held with token ${fencingToken} (its lease expired or it was released): acquire it again`, code: "LEASE_LOST" };
}

/** A node without JetStream answers 503 with the reason, not 500. */
async function jetstream<R>(reply: FastifyReply, run: () => Promise<R>): Promise<R | FastifyReply> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) return reply.code(503).send({ error: error.message, code: "JETSTREAM_UNAVAILABLE" });
    throw error;
  }
}
