/**
 * The HTTP API's contract as TypeBox schemas: each route's parameters, query, body and responses.
 * Fastify validates requests with them, @fastify/swagger turns them into the OpenAPI document
 * (`/openapi.json`, docs/openapi.json), and the typed client (client.ts) takes its types from them.
 *
 * A write's body schema is derived from the data-type registry: each type's JSON operations are run
 * once against a recorder of the arguments they read, so a new data type appears here by itself.
 */
import { Type, type Static, type TSchema } from "typebox";
import { DATA_TYPES, dataType, nestsInORMap, takesValueKind, type DataKind, type OpArgs } from "crdt-replicator";

/** Longest `?timeoutMs=` of a coordinated operation. */
export const MAX_TIMEOUT_MS = 60_000;
/** Keys per page of `GET /v1/keys` when `limit` is not given, and the largest `limit`. */
export const KEYS_PAGE_DEFAULT = 1000;
export const KEYS_PAGE_MAX = 10_000;

const typeNameOf = (kind: DataKind): string => kind.toLowerCase();
const TYPE_NAMES = DATA_TYPES.map((t) => typeNameOf(t.kind));
const NESTABLE_NAMES = DATA_TYPES.filter(nestsInORMap).map((t) => typeNameOf(t.kind));

/** Any JSON value. */
const JsonValue = Type.Unknown({ description: "any JSON value" });

// ------------------------------------------------------------------ requests

export const KeyParams = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 4096, description: "the key id (URL-encoded): non-empty, at most 1 KiB of UTF-8" }),
});

const Consistency = Type.String({
  pattern: "^(local|majority|all|[1-9][0-9]{0,3})$",
  description: "local (default), majority, all, or a number of nodes that must answer or acknowledge",
});
const TimeoutMs = Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_MS, description: "coordination timeout (default: the node's --coordination-timeout-ms)" });

export const CoordinatedQuery = Type.Object({
  consistency: Type.Optional(Consistency),
  timeoutMs: Type.Optional(TimeoutMs),
});

export const ReadQuery = Type.Object({
  consistency: Type.Optional(Consistency),
  timeoutMs: Type.Optional(TimeoutMs),
  type: Type.Optional(Type.String({ description: `the type to read a key this node does not hold as (optional: peers say which type they hold); one of ${TYPE_NAMES.join(", ")}` })),
  valueType: Type.Optional(Type.String({ description: "with type=ormap: the kind of the map's values" })),
});

export const KeysQuery = Type.Object({
  prefix: Type.Optional(Type.String({ description: "only keys starting with it" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: KEYS_PAGE_MAX, description: `keys per page (default ${KEYS_PAGE_DEFAULT}, at most ${KEYS_PAGE_MAX}); asks for the paged answer` })),
  cursor: Type.Optional(Type.String({ minLength: 1, description: "the nextCursor of the previous page (opaque); asks for the paged answer" })),
});

export const WatchQuery = Type.Object({
  prefix: Type.Optional(Type.String({ description: "only keys starting with it" })),
  initial: Type.Optional(Type.String({ description: "1 or true: first a snapshot event per key (anything else: no snapshot)" })),
  lastEventId: Type.Optional(Type.String({ description: "as the Last-Event-ID header, for clients that cannot set headers (a new EventSource); the header wins" })),
});

export const WatchHeaders = Type.Object({
  "last-event-id": Type.Optional(Type.String({ description: "the id of the last event received: resume after it" })),
});

/**
 * The operation arguments each op of `kind` reads (its JSON capability run against a recorder).
 * `nested` stands for `valueType` + `update`.
 */
function argsRead(kind: DataKind, op: string): Set<keyof OpArgs> {
  const read = new Set<keyof OpArgs>();
  const recorder: OpArgs = {
    element: () => (read.add("element"), "x"),
    field: () => (read.add("field"), "f"),
    by: () => (read.add("by"), 1),
    timestamp: () => (read.add("timestamp"), undefined),
    nested: () => (read.add("nested"), (v) => v),
  };
  dataType(kind).json!.ops[op]!(recorder);
  return read;
}

/** The body fields of one operation, without `type` (an ormap's nested update carries none). */
function operationFields(kind: DataKind, op: string, nested: TSchema | undefined): Record<string, TSchema> {
  const read = argsRead(kind, op);
  const fields: Record<string, TSchema> = { op: Type.Literal(op) };
  if (read.has("element")) fields.value = Type.Unknown({ description: "the element: any JSON value" });
  if (read.has("field")) fields.field = Type.String({ minLength: 1, description: "the map key" });
  if (read.has("by")) fields.by = Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "amount (default 1)" }));
  if (read.has("timestamp")) fields.timestamp = Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "LWW timestamp, ms (default: the node's clock)" }));
  if (read.has("nested") && nested !== undefined) {
    fields.valueType = Type.String({ enum: NESTABLE_NAMES, description: "the kind of the map's values" });
    fields.update = nested;
  } else if (takesValueKind(dataType(kind))) {
    fields.valueType = Type.Optional(Type.String({ enum: NESTABLE_NAMES, description: "the kind of the map's values (default: what the map holds)" }));
  }
  return fields;
}

function operationsOf(withType: boolean, kinds: readonly DataKind[], nested?: TSchema): TSchema[] {
  const out: TSchema[] = [];
  for (const kind of kinds) {
    for (const op of Object.keys(dataType(kind).json?.ops ?? {})) {
      const fields = operationFields(kind, op, nested);
      out.push(Type.Object(withType ? { type: Type.Literal(typeNameOf(kind)), ...fields } : fields, { title: `${typeNameOf(kind)} ${op}` }));
    }
  }
  return out;
}

const NESTED_UPDATE = Type.Union(operationsOf(false, DATA_TYPES.filter(nestsInORMap).map((t) => t.kind)), {
  description: "the operation applied to the field's value (its type is valueType)",
});

/**
 * `POST /v1/keys/:key`: `{ type, op, ... }`, one object per operation of each data type. Type names
 * are matched case-insensitively.
 */
export const Operation = Type.Union(operationsOf(true, DATA_TYPES.map((t) => t.kind), NESTED_UPDATE), {
  description: 'an operation, e.g. {"type":"gcounter","op":"increment","by":1}',
});

/** An operation's arguments in general form (each operation takes some of them). */
const ArgumentFields = {
  op: Type.String(),
  value: Type.Optional(Type.Unknown()),
  field: Type.Optional(Type.String()),
  by: Type.Optional(Type.Integer()),
  timestamp: Type.Optional(Type.Integer()),
};

/** What a client writes, in the general form of every operation (the union above is what is checked). */
export const OperationFields = Type.Object({
  type: Type.String(),
  ...ArgumentFields,
  valueType: Type.Optional(Type.String()),
  update: Type.Optional(Type.Object(ArgumentFields)),
});
export type OperationBody = Static<typeof OperationFields>;

// ------------------------------------------------------------------ responses

export const ErrorBody = Type.Object(
  { error: Type.String({ description: "what went wrong and what to do" }), code: Type.String({ description: "a stable code, e.g. NOT_FOUND" }) },
  { additionalProperties: false },
);

const TypeFields = {
  key: Type.String(),
  type: Type.String({ enum: TYPE_NAMES }),
  valueType: Type.Optional(Type.String({ enum: NESTABLE_NAMES })),
};

export const KeyInfo = Type.Object(TypeFields, { additionalProperties: false });

export const KeyValue = Type.Object(
  { ...TypeFields, value: JsonValue, detail: Type.Optional(Type.Unknown({ description: "who wrote what (per-node counts, the winning write)" })) },
  { additionalProperties: false },
);

/** A key's state as the API shows it: its type and value, or that it is deleted. */
const KEY_STATE = {
  key: Type.String(),
  type: Type.Optional(TypeFields.type),
  valueType: Type.Optional(TypeFields.valueType),
  value: Type.Optional(JsonValue),
  detail: Type.Optional(Type.Unknown()),
  deleted: Type.Optional(Type.Literal(true)),
};

/** 504 on a write: the level was not met in time; the local write stands (its value, when held). */
export const WriteTimeout = Type.Object(
  {
    error: Type.String(),
    code: Type.Literal("COORDINATION_TIMEOUT"),
    ...KEY_STATE,
  },
  { additionalProperties: false },
);

export const Deleted = Type.Object({ key: Type.String(), deleted: Type.Literal(true) }, { additionalProperties: false });

export const KeysPage = Type.Object(
  {
    keys: Type.Array(KeyInfo),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: "pass as ?cursor= for the next page; null on the last page" }),
  },
  { additionalProperties: false },
);
export const KeysAnswer = Type.Union([KeysPage, Type.Array(KeyInfo, { description: "without limit and cursor: every key at once (deprecated)" })]);

const Member = Type.Object(
  {
    node: Type.String(),
    dataCenter: Type.String(),
    roles: Type.Array(Type.String()),
    reachable: Type.Boolean(),
    self: Type.Boolean(),
    startedAtMs: Type.Number(),
    counted: Type.Boolean(),
    leader: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const ClusterView = Type.Object(
  {
    node: Type.String(),
    dataCenter: Type.String(),
    role: Type.Union([Type.String(), Type.Null()]),
    readOnly: Type.Boolean(),
    leader: Type.Union([Type.String(), Type.Null()]),
    isLeader: Type.Boolean(),
    members: Type.Array(Member),
    remotes: Type.Array(Type.Object({ name: Type.String(), servers: Type.Array(Type.String()) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

const Percentile = Type.Union([Type.Number(), Type.Null()]);
export const Stats = Type.Object(
  {
    node: Type.String(),
    dataCenter: Type.String(),
    keys: Type.Integer(),
    tombstones: Type.Integer(),
    merges: Type.Integer(),
    deltasPublished: Type.Integer(),
    deltasReceived: Type.Integer(),
    coordinatedWrites: Type.Integer(),
    coordinatedReads: Type.Integer(),
    antiEntropyRounds: Type.Integer(),
    rejected: Type.Integer(),
    crossDc: Type.Object(
      { sent: Type.Integer(), received: Type.Integer(), staleSkipped: Type.Integer(), lagMs: Type.Number() },
      { additionalProperties: false },
    ),
    replicationLagMs: Type.Object(
      { samples: Type.Integer(), p50: Percentile, p95: Percentile, p99: Percentile, max: Percentile },
      { additionalProperties: false },
    ),
    watchers: Type.Object(
      {
        open: Type.Integer(),
        max: Type.Integer(),
        refused: Type.Integer({ description: "refused with 503: the cap was reached" }),
        dropped: Type.Integer({ description: "closed: they did not read fast enough" }),
        backlog: Type.Integer({ description: "events kept for Last-Event-ID resumes" }),
        resumed: Type.Integer({ description: "resumes served from the backlog" }),
        resets: Type.Integer({ description: "resumes answered with a reset and a snapshot" }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const Health = Type.Object({ status: Type.Literal("ok"), node: Type.String() }, { additionalProperties: false });
export const Ready = Type.Object({ ready: Type.Literal(true) }, { additionalProperties: false });
export const NotReady = Type.Object({ ready: Type.Literal(false), reason: Type.String() }, { additionalProperties: false });

// ------------------------------------------------------------------ watch events

/** The data of a `snapshot`, `change` or `delete` event of `GET /v1/watch`. */
export const WatchChange = Type.Object(
  {
    ...KEY_STATE,
    node: Type.Optional(Type.String({ description: "the node the change was written on, when known" })),
    dataCenter: Type.Optional(Type.String({ description: "origin remote-dc: the data center the change came from" })),
    origin: Type.String({ enum: ["local", "dc", "sync", "remote-dc"] }),
    at: Type.Number({ description: "ms since the epoch, when this node applied it" }),
  },
  { additionalProperties: false },
);

/** The data of a `reset` event: the resume was not possible; the snapshot that follows replaces the watcher's state. */
export const WatchReset = Type.Object(
  {
    reason: Type.String({ enum: ["foreign-id", "beyond-backlog"], description: "the id is from another run of the node, or older than its backlog" }),
    lastEventId: Type.String(),
    at: Type.Number(),
  },
  { additionalProperties: false },
);

/** The data of any watch event. */
export const WatchEventData = Type.Union([WatchChange, WatchReset], { description: "each event's data: WatchChange (snapshot, change, delete) or WatchReset (reset)" });

export type KeyValueBody = Static<typeof KeyValue>;
export type KeyInfoBody = Static<typeof KeyInfo>;
export type KeysPageBody = Static<typeof KeysPage>;
export type ClusterBody = Static<typeof ClusterView>;
export type StatsBody = Static<typeof Stats>;
export type WatchChangeBody = Static<typeof WatchChange>;
export type WatchResetBody = Static<typeof WatchReset>;
export type ErrorBodyT = Static<typeof ErrorBody>;

/** Error answers every route of the API plugin may give (besides its own): 403 a write on a read-only node, 503 not ready. */
export const COMMON_ERRORS = {
  403: ErrorBody,
  503: ErrorBody,
} as const;

/** Error answers of crdt-node's door (http-server.ts), on every route: 401 no/bad token, 403 a foreign origin, 421 Host not served. */
export const DOOR_ERRORS = {
  401: ErrorBody,
  403: ErrorBody,
  421: ErrorBody,
} as const;
