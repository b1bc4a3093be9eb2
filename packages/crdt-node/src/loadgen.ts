/**
 * A gentle HTTP load generator for demos: a few writes a second, spread over the given nodes,
 * touching one key of every data type, so dashboards and Grafana have something to show.
 */
import { ConfigError, ProtocolError } from "crdt-replicator";

export interface LoadOptions {
  /** Base URLs of writable nodes. */
  targets: string[];
  /** Writes per second (default 4). */
  rate?: number;
  token?: string;
  log?: (line: string) => void;
}

export interface Load {
  readonly counts: { ok: number; failed: number };
  stop(): Promise<void>;
}

const USERS = ["alice", "bob", "carol", "dave", "erin", "frank"];
const STATUSES = ["all systems go", "degraded", "maintenance", "all systems go"];
const ITEMS = ["apple", "pear", "plum", "fig"];

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const int = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));

/** One random write: [key, body]. */
export function randomWrite(): [string, Record<string, unknown>] {
  const ops: (() => [string, Record<string, unknown>])[] = [
    () => ["page-views", { type: "gcounter", op: "increment", by: int(1, 3) }],
    () => ["page-views", { type: "gcounter", op: "increment", by: 1 }],
    () => ["inventory", { type: "pncounter", op: Math.random() < 0.6 ? "increment" : "decrement", by: int(1, 5) }],
    () => ["online-users", { type: "orset", op: Math.random() < 0.6 ? "add" : "remove", value: pick(USERS) }],
    () => ["status", { type: "lwwregister", op: "set", value: pick(STATUSES) }],
    () => ["config", { type: "lwwmap", op: "put", field: pick(["theme", "lang", "tz"]), value: pick(["dark", "light", "en", "fr", "UTC"]) }],
    () => ["votes", { type: "pncountermap", op: "increment", field: pick(["tabs", "spaces"]), by: 1 }],
    () => ["carts", { type: "ormap", op: "update", field: pick(USERS), valueType: "orset", update: { op: "add", value: pick(ITEMS) } }],
    () => ["tags", { type: "gset", op: "add", value: pick(["crdt", "nats", "delta", "lww", "orset"]) }],
    () => ["notes", { type: "mvregister", op: "set", value: `note ${int(1, 99)}` }],
    () => ["launched", { type: "flag", op: "enable" }],
  ];
  return pick(ops)();
}

export function startLoad(o: LoadOptions): Load {
  if (o.targets.length === 0) throw new ConfigError("the load generator needs at least one target");
  const rate = o.rate ?? 4;
  const counts = { ok: 0, failed: 0 };
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let lastLog = 0;

  const once = async (): Promise<void> => {
    const [key, body] = randomWrite();
    const target = pick(o.targets);
    try {
      const res = await fetch(`${target}/v1/keys/${key}`, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.ok) counts.ok++;
      else throw new ProtocolError(`HTTP ${res.status}`);
    } catch (e) {
      counts.failed++;
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        o.log?.(`loadgen: write to ${target} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  const tick = (): void => {
    if (stopped) return;
    inFlight = once().finally(() => {
      if (!stopped) timer = setTimeout(tick, 1000 / rate);
    });
  };
  tick();
  return {
    counts,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
