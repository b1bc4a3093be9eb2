/**
 * The Grafana dashboard tested for real: Debian's Prometheus scrapes running crdt-nodes in two DCs
 * (cross-DC replication on, traffic flowing: local, coordinated and cross-DC writes), and every
 * PromQL query of deploy/grafana/dashboards/crdt-replicator.json, with Grafana's variables replaced
 * by concrete values, returns at least one series through Prometheus's HTTP API; the template
 * variables' label queries find both DCs.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { startPrometheus, type PrometheusServer } from "../helpers/prometheus.js";
import { waitFor } from "../helpers/wait.js";
import { http, ROOT } from "./helpers.js";

interface Panel {
  title: string;
  targets?: { expr: string; refId: string }[];
}

const dashboard = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/dashboards/crdt-replicator.json"), "utf8")) as {
  panels: Panel[];
  templating: { list: { name: string; definition: string }[] };
};

/** Grafana's variables as the dashboard's defaults resolve them ("All"), and a rate window a few 1 s scrapes wide. */
function concrete(expr: string): string {
  return expr.replaceAll("$__rate_interval", "15s").replaceAll("$dc", ".*").replaceAll("$node", ".*");
}

describe("every Grafana panel query returns series from Prometheus scraping two DCs", () => {
  let east: NatsServer, west: NatsServer;
  let prometheus: PrometheusServer | undefined;
  const nodes: Daemon[] = [];
  let traffic: NodeJS.Timeout | undefined;

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
    await start("w2", "west", west, east, "east");
    prometheus = await startPrometheus(nodes.map((n) => new URL(n.url).host), 1);
    // Steady traffic while Prometheus scrapes: local writes in both DCs (deltas, merges, cross-DC
    // batches), coordinated writes and reads (their counters and durations).
    let i = 0;
    traffic = setInterval(() => {
      const n = nodes[i % nodes.length]!;
      const round = Math.floor(i++ / nodes.length);
      void http("POST", `${n.url}/v1/keys/k`, { type: "gcounter", op: "increment" }).catch(() => undefined);
      if (round % 3 === 0) {
        void http("POST", `${n.url}/v1/keys/c?consistency=all`, { type: "gcounter", op: "increment" }).catch(() => undefined);
        void http("GET", `${n.url}/v1/keys/c?consistency=majority`).catch(() => undefined);
      }
    }, 100);
  });
  after(async () => {
    clearInterval(traffic);
    await prometheus?.stop();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await Promise.allSettled([east?.stop(), west?.stop()]);
  });

  test("the dashboard has queries to check", () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []);
    assert.ok(exprs.length >= 20, `${exprs.length} queries`);
  });

  test("each panel query returns at least one series", async () => {
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ref: t.refId, expr: concrete(t.expr) })));
    /** Both DCs show up where a query keeps the dc label. */
    const keepsDc = (expr: string): boolean => /by \([^)]*\bdc\b/.test(expr) || !/\bby\b/.test(expr);
    const missing = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const q of queries) {
        const dcs = new Set((await prometheus!.query(q.expr)).map((s) => s.metric.dc));
        if (dcs.size === 0) out.push(`no series: ${q.panel} [${q.ref}]: ${q.expr}`);
        else if (keepsDc(q.expr) && !(dcs.has("east") && dcs.has("west"))) out.push(`only ${[...dcs].join(", ")}: ${q.panel} [${q.ref}]: ${q.expr}`);
      }
      return out;
    };
    let last: string[] = [];
    // Rates need two scrapes with traffic in between; histograms need their first recordings.
    await waitFor(async () => (last = await missing()).length === 0, { timeoutMs: 90_000, intervalMs: 1_000, message: "every query to return series (of both DCs where it keeps dc)", describe: () => last });
  });

  test("the template variables' label queries find both DCs and every node", async () => {
    for (const v of dashboard.templating.list) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(v.definition);
      assert.ok(m, `${v.name}: ${v.definition} is label_values(selector, label)`);
      const values = await prometheus!.labelValues(m[2]!, concrete(m[1]!));
      const want = v.name === "dc" ? ["east", "west"] : ["e1", "e2", "w1", "w2"];
      assert.deepEqual(values.sort(), want, `${v.name}: ${v.definition}`);
    }
  });
});
