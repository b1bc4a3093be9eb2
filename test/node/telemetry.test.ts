/**
 * crdt-node processes pushing OTLP/HTTP to a receiver in this test: with OTEL_METRICS_EXPORTER=otlp
 * the pushes carry GoAkt's twelve instruments and the runtime's, under the resource the OTEL_*
 * variables configure (http/json decoded; http/protobuf checked for the same names in its bytes),
 * and GET /metrics says where the metrics went instead of serving them.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { GOAKT_METRIC_NAMES } from "../../src/metrics/metrics.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http, spawnNode, type NodeProcess } from "./helpers.js";

interface Push {
  contentType: string;
  body: Buffer;
}

interface OtlpJson {
  resourceMetrics: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeMetrics: { scope: { name: string }; metrics: { name: string }[] }[];
  }[];
}

const RUNTIME_METRICS = ["nodejs.eventloop.delay.p99", "v8js.memory.heap.used"];

describe("OTLP export from crdt-node", () => {
  let nats: NatsServer;
  let receiver: Server;
  let endpoint: string;
  const pushes: Push[] = [];
  const nodes: NodeProcess[] = [];

  before(async () => {
    nats = await startNatsServer();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "POST" && req.url === "/v1/metrics") pushes.push({ contentType: String(req.headers["content-type"]), body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/json" });
        res.end(req.headers["content-type"]?.includes("json") ? "{}" : undefined);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const addr = receiver.address();
    assert.ok(typeof addr === "object" && addr !== null);
    endpoint = `http://127.0.0.1:${addr.port}`;
    const env = (protocol: string): Record<string, string> => ({
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_METRIC_EXPORT_INTERVAL: "500",
      OTEL_SERVICE_NAME: "crdt-otlp-test",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=ci,team=replication",
    });
    nodes.push(await spawnNode(["--node-id", "otlp-json", "--dc", "east", "--nats", nats.url], env("http/json")));
    nodes.push(await spawnNode(["--node-id", "otlp-proto", "--dc", "east", "--nats", nats.url], env("http/protobuf")));
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    await nats?.stop();
  });

  test("http/json: GoAkt's twelve and the runtime metrics, with service.name and the resource attributes", async () => {
    const attrs = (r: OtlpJson["resourceMetrics"][number]): Record<string, string | undefined> =>
      Object.fromEntries(r.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    // Every JSON push of this node: the names over all of them (the event-loop delay needs a few samples first).
    const seen = (): { names: Set<string>; resource: Record<string, string | undefined> } => {
      const names = new Set<string>();
      let resource: Record<string, string | undefined> = {};
      for (const p of pushes.filter((x) => x.contentType.startsWith("application/json"))) {
        for (const rm of (JSON.parse(p.body.toString("utf8")) as OtlpJson).resourceMetrics) {
          resource = attrs(rm);
          for (const s of rm.scopeMetrics) for (const m of s.metrics) names.add(m.name);
        }
      }
      return { names, resource };
    };
    const wanted = [...GOAKT_METRIC_NAMES, ...RUNTIME_METRICS];
    await waitFor(() => wanted.every((n) => seen().names.has(n)), { timeoutMs: 30_000, message: `JSON pushes with GoAkt's twelve and the runtime metrics (${pushes.length} pushes so far)` });
    const { names, resource } = seen();
    assert.equal(resource["service.name"], "crdt-otlp-test");
    assert.equal(resource["deployment.environment.name"], "ci");
    assert.equal(resource["team"], "replication");
    assert.equal(resource["service.instance.id"], "otlp-json", "the node id is the instance id");
    for (const n of RUNTIME_METRICS) assert.ok(names.has(n), `runtime metric ${n} pushed too; got ${[...names].join(", ")}`);
  });

  test("http/protobuf (the default protocol): the same names in the protobuf body", async () => {
    const protobuf = (): Buffer => Buffer.concat(pushes.filter((p) => p.contentType === "application/x-protobuf").map((p) => p.body));
    const wanted = ["otlp-proto", "crdt-otlp-test", "deployment.environment.name", ...GOAKT_METRIC_NAMES, ...RUNTIME_METRICS];
    await waitFor(() => wanted.every((s) => protobuf().includes(s)), { timeoutMs: 30_000, message: `protobuf pushes with ${wanted.filter((s) => !protobuf().includes(s)).join(", ")}` });
  });

  test("GET /metrics says the metrics are pushed, not served", async () => {
    const r = await http("GET", `${nodes[0]!.url}/metrics`);
    assert.equal(r.status, 404);
    assert.match(r.text, /pushed over OTLP to http:\/\/127\.0\.0\.1:\d+\/v1\/metrics; set OTEL_METRICS_EXPORTER=prometheus/);
  });
});
