/**
 * docker-compose.yml, Dockerfile and deploy/ without Docker: the compose file parses; every file,
 * build context, service and port it references exists and agrees with the nodes' flags; the nodes
 * push OTLP to the collector, which feeds Prometheus. (The Grafana queries themselves are evaluated
 * by a real Prometheus in grafana-queries.test.ts.)
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { parseConfig, type NodeConfig } from "../../src/node/config.js";
import { defaultAllowedHosts, hostAllowed } from "../../src/node/http-guard.js";
import { ROOT } from "./helpers.js";

const read = (p: string): string => readFileSync(join(ROOT, p), "utf8");
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };
const services = compose.services;
const nodeServices = Object.entries(services).filter(([, s]) => s.environment?.NODE_ID !== undefined);
const ENV_VARS = ["NODE_ID", "DC", "NATS_URL", "HTTP_ADDR", "SNAPSHOT_DIR", "REMOTE_DCS", "XDC_INTERVAL_MS", "ROLE", "READ_ONLY", "TOKEN", "COORDINATION_TIMEOUT_MS", "LOG_LEVEL"];
/** The standard OpenTelemetry variables crdt-node honours (telemetry-config.ts). */
const OTEL_VARS = ["OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"];

function hostPort(url: string): [string, number] {
  const u = new URL(url);
  return [u.hostname, Number(u.port)];
}

describe("docker-compose.yml and deploy/", () => {
  test("the topology: two NATS servers, 3 + 2 nodes, a read-only relay, load, collector, Prometheus, Grafana", () => {
    for (const s of ["nats-east", "nats-west", "loadgen", "otel-collector", "prometheus", "grafana"]) assert.ok(services[s], s);
    const ids = nodeServices.map(([name]) => name).sort();
    assert.deepEqual(ids, ["east-1", "east-2", "east-3", "east-relay", "west-1", "west-2"]);
    const relay = services["east-relay"];
    assert.equal(relay.environment.READ_ONLY, "true");
  });

  test("every node's environment is a valid crdt-node configuration pointing at services that exist", () => {
    const hostPorts = new Set<string>();
    for (const [name, s] of nodeServices) {
      for (const k of Object.keys(s.environment)) assert.ok(ENV_VARS.includes(k) || OTEL_VARS.includes(k), `${name}: ${k} is not a crdt-node variable`);
      const env = Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v)]));
      const r = parseConfig([], env);
      assert.ok("config" in r);
      const c: NodeConfig = r.config;
      assert.equal(c.nodeId, name, "NODE_ID matches the service name (other services address it by that name)");
      for (const url of [...c.nats, ...c.remoteDcs.flatMap((d) => d.servers)]) {
        const [host, port] = hostPort(url);
        assert.ok(services[host], `${name}: ${url} names service ${host}`);
        assert.equal(port, 4222);
      }
      assert.deepEqual(c.remoteDcs.map((d) => d.name), [c.dataCenter === "east" ? "west" : "east"]);
      assert.equal(hostPort(c.nats[0]!)[0], `nats-${c.dataCenter}`, `${name} uses its own DC's NATS`);
      assert.equal(c.http.host, "0.0.0.0");
      const [host, container] = String(s.ports[0]).split(":");
      assert.equal(Number(container), c.http.port, `${name}: the published port is the HTTP port`);
      // The Host check's defaults let the collector and loadgen (service name) and a browser (published port) in.
      const door = defaultAllowedHosts(c.http.host, "0123456789ab", c.nodeId); // docker's host name: the container id
      assert.ok(hostAllowed(`${name}:${container}`, door) && hostAllowed(`localhost:${host}`, door), `${name}: Host ${name} and localhost are served`);
      assert.ok(!hostPorts.has(host!), `host port ${host} used twice`);
      hostPorts.add(host!);
      assert.ok(c.snapshotDir?.startsWith("/data"), "snapshots on the /data volume");
      const volume = String(s.volumes[0]).split(":")[0]!;
      assert.ok(volume in compose.volumes, `${name}: volume ${volume} is declared`);
      assert.equal(s.build, ".");
    }
    const targets = String(services.loadgen.environment.TARGETS).split(",");
    assert.deepEqual(targets.map((t) => hostPort(t)[0]).sort(), ["east-1", "east-2", "east-3", "west-1", "west-2"], "load goes to writable nodes only");
  });

  test("files, build context and entry points exist", () => {
    assert.ok(existsSync(join(ROOT, "Dockerfile")));
    const dockerfile = read("Dockerfile");
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) assert.ok(existsSync(join(ROOT, src)), `Dockerfile copies ${src}`);
    }
    assert.match(dockerfile, /ENTRYPOINT \["node", "dist\/bin\/crdt-node.js"\]/);
    assert.ok(existsSync(join(ROOT, "bin/crdt-node.ts")));
    assert.deepEqual(services.loadgen.entrypoint, ["node", "dist/bin/crdt-loadgen.js"]);
    assert.ok(existsSync(join(ROOT, "bin/crdt-loadgen.ts")));
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s.volumes ?? []) as string[]) {
        const src = v.split(":")[0]!;
        if (src.startsWith(".")) assert.ok(existsSync(join(ROOT, src)), `${name} mounts ${src}`);
      }
    }
  });

  test("every node pushes OTLP to the collector; Prometheus scrapes the collector; Grafana reads Prometheus", () => {
    const collector = parse(read("deploy/otel-collector.yaml"));
    const otlpPort = String(collector.receivers.otlp.protocols.http.endpoint).split(":")[1];
    for (const [name, s] of nodeServices) {
      const env = Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v)]));
      const r = parseConfig([], env);
      assert.ok("config" in r);
      assert.ok(r.config.telemetry.exporters.includes("otlp"), `${name} pushes OTLP`);
      assert.equal(r.config.telemetry.otlp.url, `http://otel-collector:${otlpPort}/v1/metrics`, `${name} pushes to the collector's OTLP/HTTP receiver`);
    }
    assert.deepEqual(collector.service.pipelines.metrics.receivers, ["otlp"]);
    const exportPort = String(collector.exporters.prometheus.endpoint).split(":")[1];
    assert.deepEqual(collector.service.pipelines.metrics.exporters, ["prometheus"]);
    // Names as on a node's own /metrics: no unit suffixes, `_total` on counters (added by the transform).
    assert.equal(collector.exporters.prometheus.add_metric_suffixes, false);
    assert.ok(collector.service.pipelines.metrics.processors.includes("transform/counter-suffix"));
    assert.ok(!(services["otel-collector"].command as string[]).some((a) => a.includes("feature-gates")), "no feature gate (removed ones make newer collectors refuse to start)");

    const prom = parse(read("deploy/prometheus.yml"));
    assert.deepEqual(prom.scrape_configs[0].static_configs[0].targets, [`otel-collector:${exportPort}`]);
    const mount = (services["otel-collector"].volumes[0] as string).split(":")[1];
    assert.ok((services["otel-collector"].command as string[]).includes(`--config=${mount}`), "the collector loads the mounted config");

    const ds = parse(read("deploy/grafana/provisioning/datasources/prometheus.yml"));
    assert.equal(ds.datasources[0].url, "http://prometheus:9090");
    assert.ok(String(services.prometheus.ports[0]).endsWith(":9090"));
    const provider = parse(read("deploy/grafana/provisioning/dashboards/crdt.yml"));
    const dashboardsMount = (services.grafana.volumes as string[]).find((v) => v.startsWith("./deploy/grafana/dashboards"))!;
    assert.equal(provider.providers[0].options.path, dashboardsMount.split(":")[1]);
    const uid = ds.datasources[0].uid;
    const dash = JSON.parse(read("deploy/grafana/dashboards/crdt-replicator.json"));
    for (const p of dash.panels.filter((x: { type: string }) => x.type !== "row")) assert.equal(p.datasource.uid, uid, p.title);
  });
});
