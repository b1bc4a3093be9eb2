/**
 * docker-compose.yml, Dockerfile and deploy/ without Docker: the compose file parses; every file,
 * build context, service and port it references exists and agrees with the nodes' flags; and every
 * metric a Grafana panel queries is emitted by running crdt-nodes' /metrics.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { parseConfig, type NodeConfig } from "../../src/node/config.js";
import { startDaemon, type Daemon } from "../../src/node/daemon.js";
import { defaultAllowedHosts, hostAllowed } from "../../src/node/http-guard.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http, ROOT } from "./helpers.js";

const read = (p: string): string => readFileSync(join(ROOT, p), "utf8");
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };
const services = compose.services;
const nodeServices = Object.entries(services).filter(([, s]) => s.environment?.NODE_ID !== undefined);
const ENV_VARS = ["NODE_ID", "DC", "NATS_URL", "HTTP_ADDR", "SNAPSHOT_DIR", "REMOTE_DCS", "XDC_INTERVAL_MS", "ROLE", "READ_ONLY", "TOKEN", "COORDINATION_TIMEOUT_MS"];

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
      for (const k of Object.keys(s.environment)) assert.ok(ENV_VARS.includes(k), `${name}: ${k} is not a crdt-node variable`);
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

  test("collector scrapes every node's HTTP port; Prometheus scrapes the collector; Grafana reads Prometheus", () => {
    const collector = parse(read("deploy/otel-collector.yaml"));
    const job = collector.receivers.prometheus.config.scrape_configs[0];
    assert.equal(job.metrics_path, "/metrics");
    const targets = job.static_configs.flatMap((s: { targets: string[] }) => s.targets).sort();
    assert.deepEqual(targets, nodeServices.map(([n]) => `${n}:8080`).sort());
    const exportPort = String(collector.exporters.prometheus.endpoint).split(":")[1];
    assert.deepEqual(collector.service.pipelines.metrics.exporters, ["prometheus"]);

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

  describe("every metric a Grafana panel queries is on a running node's /metrics", () => {
    let east: NatsServer, west: NatsServer;
    const nodes: Daemon[] = [];
    before(async () => {
      east = await startNatsServer();
      west = await startNatsServer();
      const start = async (id: string, dc: string, own: NatsServer, other: NatsServer, otherDc: string): Promise<Daemon> => {
        const r = parseConfig(["--node-id", id, "--dc", dc, "--nats", own.url, "--remote-dc", `${otherDc}=${other.url}`, "--xdc-interval-ms", "200", "--http", "127.0.0.1:0"], {});
        assert.ok("config" in r);
        const d = await startDaemon(r.config, { log: () => undefined });
        nodes.push(d);
        await d.started;
        return d;
      };
      await start("e1", "east", east, west, "west");
      await start("e2", "east", east, west, "west");
      await start("w1", "west", west, east, "east");
    });
    after(async () => {
      await Promise.allSettled(nodes.map((n) => n.close()));
      await Promise.allSettled([east?.stop(), west?.stop()]);
    });

    test("queried families ⊆ exported families", async () => {
      const [e1, e2, w1] = nodes as [Daemon, Daemon, Daemon];
      await http("POST", `${e1.url}/v1/keys/k`, { type: "gcounter", op: "increment" });
      await http("POST", `${e2.url}/v1/keys/k`, { type: "gcounter", op: "increment" });
      await http("POST", `${e1.url}/v1/keys/k?consistency=all`, { type: "gcounter", op: "increment" });
      await http("GET", `${e2.url}/v1/keys/k?consistency=majority`);
      await http("POST", `${w1.url}/v1/keys/k`, { type: "gcounter", op: "increment" });
      await waitFor(async () => (await http("GET", `${w1.url}/v1/keys/k`)).body?.value === 4, { timeoutMs: 15_000, message: "cross-DC convergence" });

      const families = new Map<string, string>(); // name → type
      for (const n of nodes) {
        const text = (await http("GET", `${n.url}/metrics`)).text;
        for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, m[2]!);
      }
      const dash = JSON.parse(read("deploy/grafana/dashboards/crdt-replicator.json"));
      const exprs: string[] = dash.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
      exprs.push(...dash.templating.list.map((v: { definition: string }) => v.definition));
      const queried = new Set<string>();
      for (const e of exprs) for (const m of e.matchAll(/\bcrdt_replicator_[a-z_]+/g)) queried.add(m[0]);
      assert.ok(queried.size >= 15, `the dashboard queries ${queried.size} metrics`);
      const missing: string[] = [];
      for (const q of queried) {
        const hist = /^(.*)_(bucket|sum|count)$/.exec(q);
        const family = hist && families.get(hist[1]!) === "histogram" ? hist[1]! : q;
        if (!families.has(family)) missing.push(q);
      }
      assert.deepEqual(missing, [], `exported families: ${[...families.keys()].join(", ")}`);
      // What the panels promise: store size, publish/receive/merge, lag percentiles, coordination, anti-entropy, cross-DC.
      for (const f of ["store_size", "delta_publish_count_total", "delta_receive_count_total", "merge_count_total", "replication_lag_bucket", "coordinated_write_count_total", "coordinated_duration_bucket", "antientropy_count_total", "crossdc_send_count_total", "crossdc_receive_count_total", "crossdc_replication_lag"]) {
        assert.ok(queried.has(`crdt_replicator_${f}`), `a panel shows crdt_replicator_${f}`);
      }
    });
  });
});
