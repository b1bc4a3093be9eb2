/**
 * A real NATS cluster for tests: `size` nats-server processes joined by routes, each route through
 * its own TCP proxy (one per ordered pair of servers), so a test can partition the broker cluster
 * (`partition([[0, 1], [2]])`) while every client keeps its link to its own server.
 *
 * Servers advertise an unreachable cluster address, so route gossip cannot open a direct route that
 * bypasses the proxies; every route is one of the explicit ones below.
 */
import { freePort, startNatsServer, type NatsServer } from "./nats-server.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";
import { waitFor } from "./wait.js";

export interface NatsClusterOptions {
  /** Number of servers (default 3). */
  size?: number;
  /** Enable JetStream on every server (a JetStream cluster). */
  jetstream?: boolean;
  /** Cluster name (default "test"). */
  name?: string;
  /**
   * Servers do not tell clients about the other servers (`no_advertise`), so a client only ever
   * uses the URLs it was given — e.g. TCP proxies that a test cuts — and cannot fail over around them.
   */
  noAdvertise?: boolean;
}

export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Client URLs, one per server, in server order. */
  readonly urls: readonly string[];
  /** Cut every route between servers of different groups (servers named by index). */
  partition(groups: readonly (readonly number[])[]): void;
  /** Restore every route. */
  heal(): void;
  /** Wait until every server has a route to every other one (default deadline 20 s). */
  waitForRoutes(timeoutMs?: number): Promise<void>;
  /** Route count of server `i`, from its monitoring endpoint. */
  routes(i: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const name = options.name ?? "test";
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const monitorPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  // proxies[i][j]: server i's route to server j.
  const proxies: (TcpProxy | undefined)[][] = [];
  const servers: NatsServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(proxies.flat().map((p) => p?.close()));
  };
  try {
    for (let i = 0; i < size; i++) {
      const row: (TcpProxy | undefined)[] = [];
      for (let j = 0; j < size; j++) row.push(i === j ? undefined : await startTcpProxy(() => clusterPorts[j]!));
      proxies.push(row);
    }
    const deadPort = await freePort(); // nothing listens here: gossiped route addresses lead nowhere
    const configOf = (i: number): string => {
      const routes = proxies[i]!.filter((p): p is TcpProxy => p !== undefined).map((p) => `"nats-route://127.0.0.1:${p.port}"`);
      return [
        `server_name: ${name}-${i}`,
        `http: "127.0.0.1:${monitorPorts[i]}"`,
        "cluster {",
        `  name: ${name}`,
        `  listen: "127.0.0.1:${clusterPorts[i]}"`,
        `  advertise: "127.0.0.1:${deadPort}"`,
        `  routes: [${routes.join(", ")}]`,
        ...(options.noAdvertise ? ["  no_advertise: true"] : []),
        "}",
      ].join("\n");
    };
    for (let i = 0; i < size; i++) {
      // A port picked free may be taken before the server binds it (other tests run alongside):
      // move the route and monitor ports (the proxies follow) and try again, a few times.
      for (let attempt = 0; ; attempt++) {
        try {
          servers.push(await startNatsServer({ config: configOf(i), ...(options.jetstream ? { jetstream: true } : {}) }));
          break;
        } catch (error) {
          if (attempt >= 3 || !/address already in use/i.test(String(error))) throw error;
          [clusterPorts[i], monitorPorts[i]] = [await freePort(), await freePort()];
        }
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const routes = async (i: number): Promise<number> => {
    try {
      const res = await fetch(`http://127.0.0.1:${monitorPorts[i]}/routez`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { num_routes?: number };
      return body.num_routes ?? 0;
    } catch {
      return -1; // down or paused
    }
  };
  const waitForRoutes = async (timeoutMs = 20_000): Promise<void> => {
    await waitFor(
      async () => (await Promise.all(servers.map((_, i) => routes(i)))).every((n) => n >= size - 1),
      { timeoutMs, message: `NATS cluster "${name}": not every server routed to all ${size - 1} others` },
    );
  };
  await waitForRoutes().catch(async (error: unknown) => {
    await stop();
    throw error;
  });

  const groupOf = (i: number, groups: readonly (readonly number[])[]): number => groups.findIndex((g) => g.includes(i));
  return {
    servers,
    urls: servers.map((s) => s.url),
    partition(groups) {
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          if (i !== j && groupOf(i, groups) !== groupOf(j, groups)) proxies[i]![j]!.cut("reset");
        }
      }
    },
    heal() {
      for (const p of proxies.flat()) p?.restore();
    },
    waitForRoutes,
    routes,
    stop,
  };
}
