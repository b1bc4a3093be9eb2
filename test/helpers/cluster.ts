/** Start several replicators against one NATS server, and always close them. */
import { after, before } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Replicator, type ReplicatorOptions } from "../../src/index.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";
import { waitFor } from "./wait.js";

export interface TestCluster {
  server: NatsServer;
  nodes: Replicator[];
  add(id: string, extra?: Partial<ReplicatorOptions>): Promise<Replicator>;
  close(): Promise<void>;
}

/** Fast timings so membership settles in well under a second on a loaded machine. */
export const FAST: Partial<ReplicatorOptions> = {
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 1_500,
  removalTimeoutMs: 4_000,
  coordinationTimeoutMs: 3_000,
};

export async function startCluster(ids: string[], extra: Partial<ReplicatorOptions> = {}, server?: NatsServer): Promise<TestCluster> {
  const srv = server ?? (await startNatsServer());
  const nodes: Replicator[] = [];
  const cluster: TestCluster = {
    server: srv,
    nodes,
    async add(id, more = {}) {
      const r = await Replicator.start({ nodeId: id, nats: { servers: srv.url }, ...FAST, ...extra, ...more });
      nodes.push(r);
      return r;
    },
    async close() {
      await Promise.allSettled(nodes.map((n) => n.close()));
      if (server === undefined) await srv.stop();
    },
  };
  try {
    for (const id of ids) await cluster.add(id);
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.counted).length === nodes.length), {
      timeoutMs: 15_000,
      message: "members did not see each other",
    });
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}

/** A cluster and a raw NATS connection to its server (to publish what no node would, or listen in). */
export interface ClusterWithRaw {
  c: TestCluster;
  raw: NatsConnection;
}

/**
 * A cluster of `ids` started before the enclosing suite's tests, with a raw connection to its
 * server; both closed after them, even when a test fails. Read its fields inside the tests.
 */
export function clusterWithRaw(ids: string[], extra: Partial<ReplicatorOptions> = {}): ClusterWithRaw {
  const it = {} as ClusterWithRaw;
  before(async () => {
    it.c = await startCluster(ids, extra);
    it.raw = await connect({ servers: it.c.server.url });
  });
  after(async () => {
    await it.raw?.close();
    await it.c?.close();
  });
  return it;
}
