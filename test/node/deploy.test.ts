/**
 * docker-compose.yml, Dockerfile and deploy/ without Docker: the compose file parses; every file,
 * build context, service and port it references exists and agrees with the nodes' flags; each DC is
 * a 3-server NATS cluster whose every server each node is given; every dependency waits for a
 * healthcheck; the nodes push OTLP to the collector, which feeds Prometheus; Prometheus scrapes services that exist (and `promtool` accepts its config when
 * installed); every NATS metric the NATS dashboard queries is a numeric field of a real nats-server's /varz.
 * (The Grafana queries themselves are evaluated by a real Prometheus in grafana-queries.test.ts.)
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { parseConfig, type NodeConfig } from "../../packages/crdt-node/src/config.js";
import { defaultAllowedHosts, hostAllowed } from "../../packages/crdt-node/src/http-guard.js";
import { freePort, startNatsServer } from "../helpers/nats-server.js";
import { ROOT } from "./helpers.js";

const read = (p: string): string => readFileSync(join(ROOT, p), "utf8");
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };
const services = compose.services;
const nodeServices = Object.entries(services).filter(([, s]) => s.environment?.CRDT_NODE_ID !== undefined);
const natsServices = Object.keys(services).filter((n) => /^nats-(east|west)-\d$/.test(n)).sort();
const help = parseConfig(["--help"], {});
/** The variables crdt-node reads, as its --help lists them. */
const ENV_VARS = "help" in help ? [...help.help.matchAll(/\b(CRDT_[A-Z_]+)/g)].map((m) => m[1]!) : [];
const natsOfDc = (dc: string): string[] => [1, 2, 3].map((i) => `nats-${dc}-${i}`);
/** The value following `flag` in a command list. */
const arg = (command: string[], flag: string): string | undefined => command[command.indexOf(flag) + 1];
/** The standard OpenTelemetry variables crdt-node honours (telemetry-config.ts). */
const OTEL_VARS = ["OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"];

function hostPort(url: string): [string, number] {
  const u = new URL(url);
  return [u.hostname, Number(u.port)];
}

describe("docker-compose.yml and deploy/", () => {
  test("the topology: two 3-server NATS clusters, 3 + 2 nodes, a read-only relay, load, collector, NATS exporter, Prometheus, Grafana", () => {
    for (const s of ["loadgen", "otel-collector", "nats-exporter", "prometheus", "grafana"]) assert.ok(services[s], s);
    assert.deepEqual(natsServices, [...natsOfDc("east"), ...natsOfDc("west")]);
    const ids = nodeServices.map(([name]) => name).sort();
    assert.deepEqual(ids, ["east-1", "east-2", "east-3", "east-relay", "west-1", "west-2"]);
    const relay = services["east-relay"];
    assert.equal(relay.environment.CRDT_READ_ONLY, "true");
  });

  test("each DC's NATS servers form one cluster: its name, a route to every server of the DC, monitoring where the healthcheck looks", () => {
    for (const name of natsServices) {
      const dc = /^nats-(\w+)-/.exec(name)![1]!;
      const command = services[name].command as string[];
      assert.equal(arg(command, "--name"), name);
      assert.equal(arg(command, "--cluster_name"), dc);
      const clusterPort = new URL(arg(command, "--cluster")!).port;
      const routes = arg(command, "--routes")!.split(",").map((r) => new URL(r));
      assert.deepEqual(routes.map((r) => r.hostname), natsOfDc(dc), `${name} routes to every server of ${dc}`);
      for (const r of routes) assert.equal(r.port, clusterPort, `${name}: ${r.href} is the cluster port`);
      const health = (services[name].healthcheck.test as string[]).join(" ");
      assert.match(health, new RegExp(`http://127\\.0\\.0\\.1:${arg(command, "--http_port")}/healthz`), `${name}: the healthcheck asks the monitoring port's /healthz`);
    }
  });

  test("every dependency waits for a healthcheck; nodes are healthy once /readyz answers", () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = s.depends_on ?? {};
      assert.ok(!Array.isArray(deps), `${name}: depends_on with conditions, not a bare list`);
      for (const [dep, how] of Object.entries(deps as Record<string, { condition: string }>)) {
        assert.ok(services[dep], `${name} depends on ${dep}, which is a service`);
        assert.equal(how.condition, "service_healthy", `${name} waits for ${dep} to be healthy`);
        assert.ok(services[dep].healthcheck?.test, `${dep} (needed by ${name}) has a healthcheck`);
      }
    }
    for (const [name, s] of nodeServices) {
      assert.match((s.healthcheck.test as string[]).join(" "), /127\.0\.0\.1:8080\/readyz/, `${name}: healthy = ready`);
      for (const n of natsOfDc(s.environment.CRDT_DC)) assert.ok(n in s.depends_on, `${name} waits for ${n}`);
    }
    for (const n of ["east-1", "east-2", "east-3"]) assert.ok(n in services["east-relay"].depends_on, "the relay starts after east's writers");
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
      const other = c.dataCenter === "east" ? "west" : "east";
      assert.deepEqual(c.remoteDcs.map((d) => d.name), [other]);
      assert.deepEqual(c.nats.map((u) => hostPort(u)[0]), natsOfDc(c.dataCenter), `${name} is given every NATS server of its DC`);
      assert.deepEqual(c.remoteDcs[0]!.servers.map((u) => hostPort(u)[0]), natsOfDc(other), `${name} is given every NATS server of ${other}`);
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
    assert.match(dockerfile, /ENTRYPOINT \["node", "packages\/crdt-node\/dist\/bin\/crdt-node.js"\]/);
    assert.match(dockerfile, /^FROM node:(22|24)-/m, "an LTS line in support");
    assert.ok(existsSync(join(ROOT, "packages/crdt-node/bin/crdt-node.ts")));
    assert.deepEqual(services.loadgen.entrypoint, ["node", "packages/crdt-node/dist/bin/crdt-loadgen.js"]);
    assert.ok(existsSync(join(ROOT, "packages/crdt-node/bin/crdt-loadgen.ts")));
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
    // Every scrape target is a service, on the port it serves metrics on.
    const servesOn: Record<string, string> = { "otel-collector": exportPort!, "nats-exporter": arg(services["nats-exporter"].command, "-p")! };
    for (const job of prom.scrape_configs) {
      for (const target of job.static_configs.flatMap((c: { targets: string[] }) => c.targets) as string[]) {
        const [host, port] = target.split(":");
        assert.ok(services[host!], `${job.job_name}: ${target} names a service`);
        assert.equal(port, servesOn[host!], `${job.job_name}: ${target} is where ${host} serves metrics`);
      }
    }
    assert.ok(prom.scrape_configs.some((j: { job_name: string }) => j.job_name === "nats"), "NATS monitoring is scraped");
    const exporter = services["nats-exporter"].command as string[];
    // Its servers: "<server_id>,<monitoring URL>", the id being the service's name (the dashboard's legend).
    const polled = exporter.filter((a) => a.includes(",http")).map((a) => a.split(","));
    assert.deepEqual(polled.map(([id]) => id), natsServices);
    for (const [id, url] of polled) assert.equal(url, `http://${id}:${arg(services[id!].command, "--http_port")}`, `the exporter polls ${id}'s monitoring port`);
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
    const nats = JSON.parse(read("deploy/grafana/dashboards/nats.json"));
    assert.notEqual(nats.uid, dash.uid);
    assert.ok(nats.panels.some((p: { type: string }) => p.type === "row"), "the NATS dashboard has its row");
    for (const p of nats.panels.filter((x: { type: string }) => x.type !== "row")) assert.equal(p.datasource.uid, uid, p.title);
  });

  test("promtool accepts deploy/prometheus.yml (when Debian's prometheus package is installed)", (t) => {
    let promtool: string;
    try {
      promtool = execFileSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).trim();
    } catch {
      t.skip("promtool is not installed");
      return;
    }
    // Only the syntax: the targets' host names exist inside compose's network, not here.
    const out = execFileSync(promtool, ["check", "config", "--syntax-only", join(ROOT, "deploy/prometheus.yml")], { encoding: "utf8" });
    assert.match(out, /SUCCESS/);
  });

  test("every NATS metric the NATS dashboard queries is a numeric field of a real nats-server's /varz", async () => {
    const port = await freePort();
    const server = await startNatsServer({ config: `http: "127.0.0.1:${port}"` });
    try {
      const varz = (await (await fetch(`http://127.0.0.1:${port}/varz`)).json()) as Record<string, unknown>;
      const nats = JSON.parse(read("deploy/grafana/dashboards/nats.json"));
      const exprs: string[] = nats.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
      const fields = exprs.flatMap((e) => [...e.matchAll(/\bgnatsd_varz_([a-z_]+)/g)].map((m) => m[1]!));
      assert.ok(fields.length >= 8, `the dashboard queries ${fields.length} /varz fields`);
      for (const f of fields) assert.equal(typeof varz[f], "number", `/varz has a numeric ${f} (the exporter's gnatsd_varz_${f})`);
      assert.ok(exprs.every((e) => !/gnatsd_(?!varz_)/.test(e)), "only /varz metrics, the ones checked here");
    } finally {
      await server.stop();
    }
  });
});
