/**
 * Failover of NatsTransport when its server of a 3-server cluster hangs (SIGSTOP: the server's
 * kernel still holds and accepts TCP connections, so only silence tells): the client moves to
 * another server, through URLs it was given or the cluster advertised, and a request waiting for
 * its reply is sent again on the new connection. Prints the failover times it measured.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it, type TestContext } from "node:test";
import { ConfigError } from "../../src/errors.js";
import { connectNats, type NatsConnectionOptions, type NatsTransport } from "../../src/transport/nats.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { stopAllNatsServers } from "../helpers/nats-server.js";
import { sleep, waitFor, waitForEvent } from "../helpers/wait.js";

/** The bound for a failover, and for traffic to flow again. */
const FAILOVER_MS = 2_000;
const FLOWING_AGAIN_MS = 3_000;

let cluster: NatsCluster;
before(async () => {
  cluster = await startNatsCluster({ size: 3 });
});
after(async () => {
  for (const s of cluster?.servers ?? []) s.resume();
  await cluster?.stop();
  await stopAllNatsServers();
});

async function open(t: TestContext, options: NatsConnectionOptions): Promise<NatsTransport> {
  const transport = await connectNats({ onHandlerError: () => {}, ...options });
  t.after(() => transport.close());
  return transport;
}

/** Server `first`'s URL, then the others: with `noRandomize` the client starts on `first`. */
const startingAt = (first: number): string[] => [first, ...[0, 1, 2].filter((i) => i !== first)].map((i) => cluster.urls[i]!);
const portOf = (server: string): number => Number(/:(\d+)$/.exec(server)?.[1]);
const serverIndex = (tr: NatsTransport): number => cluster.servers.findIndex((s) => s.port === portOf(tr.connection.getServer()));

/**
 * SIGSTOP server `i`; resolves with the time once the kernel reports it stopped. It is resumed
 * (and the cluster's routes are back) when the test ends, pass or fail.
 */
async function hang(t: TestContext, i: number): Promise<number> {
  const server = cluster.servers[i]!;
  t.after(async () => {
    server.resume();
    await cluster.waitForRoutes();
  });
  server.pause();
  await waitFor(() => stopped(server.pid), { timeoutMs: 5_000, intervalMs: 1, message: `server ${i} stopped` });
  return performance.now();
}

function stopped(pid: number): boolean {
  try {
    return /^\d+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no procfs: the signal is sent, take it as delivered
  }
}

const seqOf = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
function numbered(seq: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, seq);
  return b;
}

describe("NatsTransport when its server hangs", () => {
  const timings: string[] = [];
  after(() => console.log(`# failover after SIGSTOP of the client's server (ms, pause → reconnect / → delivery):\n#   ${timings.join("\n#   ")}`));

  for (const [round, load] of [
    [0, "light"],
    [1, "light"],
    [2, "light"],
    [3, "heavy"],
    [4, "heavy"],
    [5, "heavy"],
  ] as const) {
    const k = round % 3;
    // heavy: 256 KB every 10 ms, so the hung server's socket buffers fill up within a second.
    it(`fails over within ${FAILOVER_MS} ms and delivers again (round ${round}: server ${k}, ${load} publishing)`, async (t) => {
      const publisher = await open(t, { servers: startingAt(k), noRandomize: true });
      const listener = await open(t, { servers: [cluster.urls[(k + 1) % 3]!], ignoreClusterUpdates: true });
      assert.equal(serverIndex(publisher), k);
      let lastSeen = -1;
      listener.subscribe("fo.t", (m) => (lastSeen = Math.max(lastSeen, seqOf(m.data))));
      await listener.flush();
      let seq = 0;
      const timer = setInterval(() => {
        const [count, size] = load === "heavy" ? [4, 64 * 1024] : [1, 16];
        for (let i = 0; i < count; i++) publisher.publish("fo.t", numbered(++seq, size));
      }, 10);
      try {
        await waitFor(() => lastSeen > 0, { message: "messages flow before the hang" });

        await sleep(Math.random() * 500); // hang at a random phase of the client's ping period
        const reconnected = waitForEvent(publisher.onStatus.bind(publisher), (s) => s.type === "reconnect", { timeoutMs: 15_000 });
        const pausedAt = await hang(t, k);
        const seqAtPause = seq;
        await reconnected;
        const reconnectMs = performance.now() - pausedAt;
        await waitFor(() => lastSeen > seqAtPause, { timeoutMs: 15_000, intervalMs: 5, message: "a message published after the hang" });
        const flowingMs = performance.now() - pausedAt;
        timings.push(`round ${round} (${load}): ${reconnectMs.toFixed(0)} / ${flowingMs.toFixed(0)}`);
        assert.notEqual(serverIndex(publisher), k, "moved to another server");
        assert.ok(reconnectMs <= FAILOVER_MS, `failover took ${reconnectMs.toFixed(0)} ms`);
        assert.ok(flowingMs <= FLOWING_AGAIN_MS, `delivery again after ${flowingMs.toFixed(0)} ms`);
      } finally {
        clearInterval(timer);
      }
    });
  }

  it("a client working through a backlog longer than the ping bound is not taken for hung", async (t) => {
    const busy = await open(t, { servers: [cluster.urls[2]!], ignoreClusterUpdates: true });
    const publisher = await open(t, { servers: [cluster.urls[2]!], ignoreClusterUpdates: true });
    const statuses: string[] = [];
    busy.onStatus((s) => statuses.push(s.type));
    let got = 0;
    busy.subscribe("fo.backlog", () => {
      got++;
      const until = performance.now() + 2; // 2 ms of work per message: 1,500 take 3 s or more
      while (performance.now() < until);
    });
    await busy.flush();
    for (let i = 0; i < 1_500; i++) publisher.publish("fo.backlog", new Uint8Array(1024));
    await publisher.flush();
    // Its PONGs wait behind seconds of messages; the messages themselves prove the server alive.
    await waitFor(() => got === 1_500, { timeoutMs: 30_000, message: "the whole backlog", describe: () => got });
    assert.deepEqual(statuses, [], "no disconnect");
  });

  it("rejects ping settings that could never tell a hung server", async () => {
    for (const bad of [{ pingInterval: 0 }, { pingInterval: 2.5 }, { maxPingOut: 0 }]) {
      await assert.rejects(connectNats({ servers: cluster.urls[0]!, ...bad }), ConfigError);
    }
  });

  it("a client given one URL fails over to a server the cluster advertised", async (t) => {
    const client = await open(t, { servers: cluster.urls[0]! });
    // The other servers arrive with the server's INFO (its connect_urls).
    await waitFor(() => client.connection.getServers().length === 3, { message: "the cluster's servers learned" });
    const reconnected = waitForEvent(client.onStatus.bind(client), (s) => s.type === "reconnect", { timeoutMs: 15_000 });
    const pausedAt = await hang(t, 0);
    await reconnected;
    assert.ok(performance.now() - pausedAt <= FAILOVER_MS, `failover took ${(performance.now() - pausedAt).toFixed(0)} ms`);
    assert.notEqual(serverIndex(client), 0);
  });

  it("a request sent to the hung server is sent again on the new connection and answered in time", async (t) => {
    const responder = await open(t, { servers: [cluster.urls[1]!], ignoreClusterUpdates: true });
    let served = 0;
    responder.subscribe("fo.ask", (m) => {
      served++;
      responder.respond(m.reply!, m.data);
    });
    await responder.flush();
    const requester = await open(t, { servers: startingAt(0), noRandomize: true });
    await waitFor(async () => (await requester.request("fo.ask", numbered(0, 4), 1_000).catch(() => undefined)) !== undefined, {
      message: "the responder's interest reached server 0",
    });
    const servedBefore = served;

    const pausedAt = await hang(t, 0);
    const reply = await requester.request("fo.ask", numbered(7, 4), 5_000); // its first copy dies in server 0
    const answeredMs = performance.now() - pausedAt;
    timings.push(`request waiting at the hang answered after ${answeredMs.toFixed(0)}`);
    assert.equal(seqOf(reply), 7);
    assert.equal(served, servedBefore + 1, "answered by the copy sent on the new connection");
    assert.ok(answeredMs <= FLOWING_AGAIN_MS, `answered after ${answeredMs.toFixed(0)} ms`);
  });
});
