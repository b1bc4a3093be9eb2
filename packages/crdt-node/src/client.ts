/**
 * A typed client of the crdt-node HTTP API over `fetch`: its types are the routes' schemas
 * (schemas.ts, `Static<typeof ...>`), so the client and the server cannot disagree on a shape
 * without the compiler saying so.
 *
 *     const c = new CrdtClient({ url: "http://127.0.0.1:8080", token });
 *     await c.write("views", { type: "gcounter", op: "increment", by: 1 });
 *     for await (const e of c.watch({ prefix: "views" })) console.log(e.event, e.data);
 */
import type { Static } from "typebox";
import { KEYS_PAGE_DEFAULT } from "./schemas.js";
import type * as S from "./schemas.js";

export type Operation = S.OperationBody;
export type KeyValue = S.KeyValueBody;
export type KeyInfo = S.KeyInfoBody;
export type KeysPage = S.KeysPageBody;
export type ClusterView = S.ClusterBody;
export type Stats = S.StatsBody;
export type Deleted = Static<typeof S.Deleted>;
export type Consistency = "local" | "majority" | "all" | number;

/** An event of `GET /v1/watch`, with its SSE id. */
export type WatchEvent =
  | { id: string; event: "snapshot" | "change" | "delete"; data: S.WatchChangeBody }
  | { id: string; event: "reset"; data: S.WatchResetBody };

export interface ClientOptions {
  /** The node's base URL, e.g. http://127.0.0.1:8080 (with the plugin's prefix, if mounted under one). */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Per-request timeout, ms (not for watch). Default 30000. */
  timeoutMs?: number;
}

export interface Coordinated {
  consistency?: Consistency;
  timeoutMs?: number;
}

/** An error answer: its status, `code` and message. */
export class CrdtApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole answer (a 504 on a write carries the local value). */
    readonly body: unknown,
  ) {
    super(message);
  }
}

export class CrdtClient {
  private readonly base: string;

  constructor(private readonly o: ClientOptions) {
    this.base = o.url.replace(/\/+$/, "");
  }

  /** Apply an operation; resolves with the key's new value. */
  write(key: string, op: Operation, options: Coordinated = {}): Promise<KeyValue> {
    return this.json("POST", `/v1/keys/${encodeURIComponent(key)}${query(coordinated(options))}`, op);
  }

  /** The key's value, or undefined when it is not found (404); a deleted key throws (410). */
  async read(key: string, options: Coordinated & { type?: string; valueType?: string } = {}): Promise<KeyValue | undefined> {
    try {
      return await this.json("GET", `/v1/keys/${encodeURIComponent(key)}${query({ ...coordinated(options), type: options.type, valueType: options.valueType })}`);
    } catch (e) {
      if (e instanceof CrdtApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  delete(key: string, options: Coordinated = {}): Promise<Deleted> {
    return this.json("DELETE", `/v1/keys/${encodeURIComponent(key)}${query(coordinated(options))}`);
  }

  /** One page of keys (pass the previous page's `nextCursor` as `cursor`). */
  keys(options: { prefix?: string; limit?: number; cursor?: string } = {}): Promise<KeysPage> {
    return this.json("GET", `/v1/keys${query({ prefix: options.prefix, limit: options.limit ?? KEYS_PAGE_DEFAULT, cursor: options.cursor })}`);
  }

  /** Every key, page by page. */
  async *allKeys(options: { prefix?: string; limit?: number } = {}): AsyncGenerator<KeyInfo> {
    let cursor: string | undefined;
    do {
      const page = await this.keys({ ...options, ...(cursor === undefined ? {} : { cursor }) });
      yield* page.keys;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  cluster(): Promise<ClusterView> {
    return this.json("GET", "/v1/cluster");
  }

  stats(): Promise<Stats> {
    return this.json("GET", "/v1/stats");
  }

  /**
   * The change stream until `signal` aborts (or the node ends it). `lastEventId`: resume after that
   * event (a `reset` event and a snapshot come instead when the node cannot).
   */
  async *watch(options: { prefix?: string; initial?: boolean; lastEventId?: string; signal?: AbortSignal } = {}): AsyncGenerator<WatchEvent> {
    const headers: Record<string, string> = { ...this.auth(), accept: "text/event-stream" };
    if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId;
    const res = await fetch(`${this.base}/v1/watch${query({ prefix: options.prefix, initial: options.initial ? "1" : undefined })}`, {
      headers,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (!res.ok || res.body === null) throw await apiError(res);
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const event = parseEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (event !== undefined) yield event;
        }
      }
    } catch (e) {
      if (options.signal?.aborted) return;
      throw e;
    }
  }

  private auth(): Record<string, string> {
    return this.o.token === undefined ? {} : { authorization: `Bearer ${this.o.token}` };
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { ...this.auth(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
    });
    if (!res.ok) throw await apiError(res);
    return (await res.json()) as T;
  }
}

function coordinated(o: Coordinated): Record<string, string | number | undefined> {
  return { consistency: o.consistency, timeoutMs: o.timeoutMs };
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

async function apiError(res: Response): Promise<CrdtApiError> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const { error, code } = (typeof body === "object" && body !== null ? body : {}) as { error?: string; code?: string };
  return new CrdtApiError(res.status, code ?? "HTTP_" + res.status, error ?? `${res.status} ${res.statusText}`, body);
}

function parseEvent(block: string): WatchEvent | undefined {
  let id = "";
  let event = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("id: ")) id = line.slice(4);
    else if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (data === "") return undefined; // a comment (ping) or the retry line
  return { id, event, data: JSON.parse(data) } as WatchEvent;
}
