/**
 * The daemon's HTTP API from a client: write a counter and a set, read them back, list the keys.
 * Start a daemon first (with a NATS server on 127.0.0.1:4222):
 *   npx crdt-node --node-id a --nats nats://127.0.0.1:4222 --http 127.0.0.1:8080
 * then: npx tsx examples/daemon-http.ts   (CRDT_NODE_URL picks another daemon)
 */
const base = process.env.CRDT_NODE_URL ?? "http://127.0.0.1:8080";

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

await call("POST", "/v1/keys/visits", { type: "gcounter", op: "increment", by: 3 });
await call("POST", "/v1/keys/tags", { type: "orset", op: "add", value: "new" });
await call("POST", "/v1/keys/tags", { type: "orset", op: "add", value: "sale" });

const visits = (await call("GET", "/v1/keys/visits")) as { value: number };
const tags = (await call("GET", "/v1/keys/tags")) as { value: string[] };
const keys = (await call("GET", "/v1/keys")) as { key: string; type: string }[];
console.log("visits", visits.value);
console.log("tags", [...tags.value].sort());
console.log("keys", keys.map((k) => `${k.key}:${k.type}`).sort());
