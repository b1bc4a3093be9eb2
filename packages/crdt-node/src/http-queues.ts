/**
 * The queue routes of the HTTP API (`/v1/queues/:name`), over `replicator.distributed().queue`
 * with the JSON codec: an item is any JSON value.
 * - POST /v1/queues/:name          enqueue `{ item, id? }` (an id makes a retried enqueue store once)
 * - GET  /v1/queues/:name          the queue's size
 * - GET  /v1/queues/:name/peek     the oldest item, left in place
 * - POST /v1/queues/:name/dequeue  remove and return the oldest item, at most once
 * - POST /v1/queues/:name/take     the oldest item with a receipt, at least once: it comes back after
 *                                  the queue's ack wait unless acknowledged
 * - POST /v1/queues/:name/ack      `{ receipt }`: done with a taken item (any node may ack it)
 * An empty queue answers `{ empty: true }`. dequeue and take take `?waitMs=` (≤ 30 s) to wait for an
 * item. The API's auth and read-only rules apply as to every route (POSTs are writes). 501 when the
 * node's replicator has no JetStream-capable NATS connection; 503 when JetStream does not answer.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { Type } from "typebox";
import { ConfigError, ProtocolError, RequestFailedError, type Queue, type Replicator } from "crdt-replicator";

/** Handles kept for reuse (each new one checks its stream once); the oldest is dropped beyond this. */
const MAX_HANDLES = 1_000;
const MAX_WAIT_MS = 30_000;

const Name = Type.Object({ name: Type.String({ minLength: 1, maxLength: 512, description: "the queue's name (at most 128 bytes of UTF-8)" }) });
const Wait = Type.Object({ waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS, description: "wait up to this long for an item (default 0)" })) });
const Item = Type.Unknown({ description: "the item: any JSON value" });
const Empty = Type.Object({ queue: Type.String(), empty: Type.Literal(true) }, { additionalProperties: false });
const Found = Type.Object({ queue: Type.String(), empty: Type.Literal(false), item: Item }, { additionalProperties: false });
const Taken = Type.Object(
  {
    queue: Type.String(),
    empty: Type.Literal(false),
    item: Item,
    receipt: Type.String({ description: "acknowledge with POST /v1/queues/:name/ack { receipt }" }),
    deliveries: Type.Integer({ minimum: 1, description: "1 the first time, more when delivered again" }),
  },
  { additionalProperties: false },
);
const ErrorBody = Type.Object({ error: Type.String(), code: Type.String() }, { additionalProperties: false });
const ERRORS = { 400: ErrorBody, 501: ErrorBody, 502: ErrorBody, 503: ErrorBody };
const TAGS = ["queues"];

/** Register the queue routes; `live()` is the running replicator (it throws the API's 503 when not ready). */
export function registerQueueRoutes(app: FastifyInstance, live: () => Replicator): void {
  const handles = new Map<string, Queue<unknown>>();
  const queue = (name: string): Queue<unknown> => {
    let q = handles.get(name);
    if (q === undefined) {
      q = live().distributed().queue<unknown>(name);
      if (handles.size >= MAX_HANDLES) handles.delete(handles.keys().next().value!);
      handles.set(name, q);
    }
    return q;
  };

  app.post(
    "/v1/queues/:name",
    {
      schema: {
        summary: "Enqueue an item",
        tags: TAGS,
        params: Name,
        body: Type.Object({ item: Item, id: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "an id: an enqueue repeated with it within 2 minutes stores the item once" })) }, { additionalProperties: false }),
        response: { 201: Type.Object({ queue: Type.String(), enqueued: Type.Literal(true) }, { additionalProperties: false }), ...ERRORS },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      const { item, id } = req.body as { item?: unknown; id?: string };
      if (item === undefined) return reply.code(400).send({ error: "the body needs an item: { \"item\": <any JSON value> }", code: "BAD_REQUEST" });
      return answer(reply, async () => {
        await queue(name).enqueue(item, id === undefined ? {} : { id });
        void reply.code(201);
        return { queue: name, enqueued: true };
      });
    },
  );

  app.get(
    "/v1/queues/:name",
    { schema: { summary: "A queue's size (taken, unacknowledged items included)", tags: TAGS, params: Name, response: { 200: Type.Object({ queue: Type.String(), size: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }), ...ERRORS } } },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      return answer(reply, async () => ({ queue: name, size: await queue(name).size() }));
    },
  );

  app.get(
    "/v1/queues/:name/peek",
    { schema: { summary: "The oldest item, left in place", tags: TAGS, params: Name, response: { 200: Type.Union([Found, Empty]), ...ERRORS } } },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      return answer(reply, async () => found(name, await optional(queue(name).peek())));
    },
  );

  app.post(
    "/v1/queues/:name/dequeue",
    { schema: { summary: "Remove and return the oldest item (at most once)", tags: TAGS, params: Name, querystring: Wait, response: { 200: Type.Union([Found, Empty]), ...ERRORS } } },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      const { waitMs } = req.query as { waitMs?: number };
      return answer(reply, async () => found(name, await optional(queue(name).dequeue({ waitMs: waitMs ?? 0 }))));
    },
  );

  app.post(
    "/v1/queues/:name/take",
    { schema: { summary: "Take the oldest item with a receipt (at least once: acknowledge it, or it comes back)", tags: TAGS, params: Name, querystring: Wait, response: { 200: Type.Union([Taken, Empty]), ...ERRORS } } },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      const { waitMs } = req.query as { waitMs?: number };
      return answer(reply, async () => {
        const t = await queue(name).take({ waitMs: waitMs ?? 0 });
        return t === undefined ? { queue: name, empty: true } : { queue: name, empty: false, item: t.value, receipt: t.receipt, deliveries: t.deliveries };
      });
    },
  );

  app.post(
    "/v1/queues/:name/ack",
    {
      schema: {
        summary: "Acknowledge a taken item: it leaves the queue",
        tags: TAGS,
        params: Name,
        body: Type.Object({ receipt: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ queue: Type.String(), acked: Type.Literal(true) }, { additionalProperties: false }), ...ERRORS },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      const { receipt } = req.body as { receipt: string };
      return answer(reply, async () => {
        await queue(name).ack(receipt);
        return { queue: name, acked: true };
      });
    },
  );
}

/** An item or nothing, told apart even when the item is `null` (a JSON item may be). */
async function optional<T>(p: Promise<T | undefined>): Promise<{ item: T } | undefined> {
  const item = await p;
  return item === undefined ? undefined : { item };
}

function found(queue: string, got: { item: unknown } | undefined): Record<string, unknown> {
  return got === undefined ? { queue, empty: true } : { queue, empty: false, item: got.item };
}

/** Run a queue operation; the errors that are the queue's own become their status codes, the rest the API's. */
async function answer<R>(reply: FastifyReply, run: () => Promise<R>): Promise<R | FastifyReply> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) return reply.code(501).send({ error: error.message, code: "NO_JETSTREAM" });
    if (error instanceof RequestFailedError) return reply.code(503).send({ error: error.message, code: "QUEUE_UNAVAILABLE" });
    if (error instanceof ProtocolError) return reply.code(502).send({ error: error.message, code: "QUEUE_REFUSED" });
    throw error;
  }
}
