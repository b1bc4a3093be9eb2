/**
 * The demo's process supervision (scripts/demo-processes.ts) on real nats-servers: a server that
 * loses the free-port race (its port taken between picking and binding: EADDRINUSE) starts again on
 * other ports, and a server killed and started again comes back at the same client URL, in its
 * cluster again. Every process is killed by PID at exit, whatever happens.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { startNatsCluster, type DemoNatsCluster, type Supervisor } from "../../scripts/demo-processes.js";
import { findBinary, freePort } from "../helpers/nats-server.js";
import { reaper } from "../helpers/reaper.js";
import { waitFor } from "../helpers/wait.js";

const processes = reaper(() => undefined);
processes.installHooks();
const logs: string[] = [];
const unexpected: string[] = [];
const supervisor: Supervisor = {
  children: processes.children,
  log: (line) => logs.push(line),
  unexpectedExit: (name, why) => unexpected.push(`${name}: ${why}`),
};

let cluster: DemoNatsCluster | undefined;
let squatter: Server | undefined;
after(async () => {
  await cluster?.close();
  squatter?.close();
  processes.killAll();
});

test("a NATS cluster server that loses the port race starts again elsewhere; one killed comes back at the same URL", { timeout: 120_000 }, async () => {
  // A port someone else holds: the first port handed out (server 1's client port) is taken.
  squatter = createServer();
  await new Promise<void>((resolve) => squatter!.listen(0, "127.0.0.1", resolve));
  const taken = (squatter.address() as { port: number }).port;
  let handedOut = 0;
  const pickPort = async (): Promise<number> => (handedOut++ === 0 ? taken : freePort());

  cluster = await startNatsCluster(findBinary(), "t", 3, supervisor, pickPort);
  assert.ok(logs.some((l) => /t-1 lost a free-port race \(EADDRINUSE\); starting again/.test(l)), logs.join("\n"));
  assert.notEqual(cluster.servers[0]!.ports[0], taken);
  await waitFor(() => cluster!.routed(), { timeoutMs: 30_000, message: "3 servers routed to each other" });

  // A client on every URL: each reaches a server (through the proxies) that routes to the others.
  const client = await connect({ servers: cluster.urls[2]!, reconnect: false });
  const received = new Promise<string>((resolve) => client.subscribe("x", { callback: (_e, m) => resolve(m.string()) }));
  await client.flush();
  const other = await connect({ servers: cluster.urls[0]!, reconnect: false });
  await waitFor(async () => {
    other.publish("x", "across the routes");
    await other.flush();
    return (await Promise.race([received, new Promise((r) => setTimeout(() => r(undefined), 200))])) !== undefined;
  }, { timeoutMs: 20_000, message: "a message crosses the cluster" });
  await other.close();

  const urls = [...cluster.urls];
  const server = cluster.servers[0]!;
  const firstPorts = [...server.ports];
  await server.kill();
  await server.start();
  assert.deepEqual(cluster.urls, urls, "the client URLs do not move");
  assert.notDeepEqual(server.ports, firstPorts, "the server itself is on fresh ports");
  await waitFor(() => cluster!.routed(), { timeoutMs: 30_000, message: "the restarted server is routed again" });
  const again = await connect({ servers: urls[0]!, reconnect: false });
  await again.flush();
  await again.close();
  await client.close();
  assert.deepEqual(unexpected, [], "a kill by the supervisor is expected, not a failure");

  const pids = [...processes.children].map((c) => c.pid!);
  await cluster.close();
  cluster = undefined;
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), `pid ${pid} is gone`);
});
