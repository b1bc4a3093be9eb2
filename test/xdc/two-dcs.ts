/**
 * Two data centers for tests: one nats-server process each (east, west) and replicators on them
 * that replicate to the other DC. Everything started here is stopped by `close()` (servers by PID,
 * child processes by PID with SIGKILL), and the nats-server helper kills any leftover server when
 * the test process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Replicator, type ReplicatorOptions } from "../../src/index.js";
import type { DataCenterReplicationOptions } from "../../src/xdc/options.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

export type DcName = "east" | "west";

export interface Dc {
  name: DcName;
  server: NatsServer;
  nodes: Replicator[];
}

export interface TwoDcs {
  east: Dc;
  west: Dc;
  dc(name: DcName): Dc;
  /** Start a replicator in `dc` (options: FAST membership, replication to the other DC). */
  add(dc: DcName, id: string, more?: Partial<ReplicatorOptions>, xdc?: Partial<DataCenterReplicationOptions>): Promise<Replicator>;
  /** Start a replicator in a child process (so it can be SIGKILLed); resolves once it runs. */
  addChild(dc: DcName, id: string, xdc?: Partial<DataCenterReplicationOptions>): Promise<ChildNode>;
  /** The other DC's URL as the nodes of `dc` see it (overridable to point at a server not yet started). */
  remoteUrl: Record<DcName, string>;
  close(): Promise<void>;
}

export interface ChildNode {
  id: string;
  pid: number;
  /** SIGKILL: a crash, nothing flushed. Resolves once the process is gone. */
  kill(): Promise<void>;
}

export const XDC_DEFAULTS: Partial<DataCenterReplicationOptions> = {
  intervalMs: 200,
  sendTimeoutMs: 1_500,
};

const other = (dc: DcName): DcName => (dc === "east" ? "west" : "east");

export function nodeOptions(
  dc: DcName,
  id: string,
  url: string,
  remoteUrl: string,
  xdc: Partial<DataCenterReplicationOptions> = {},
): ReplicatorOptions {
  return {
    nodeId: id,
    dataCenter: dc,
    nats: { servers: url },
    ...FAST,
    dataCenterReplication: { remotes: [{ name: other(dc), servers: remoteUrl }], ...XDC_DEFAULTS, ...xdc },
  } as ReplicatorOptions;
}

/** Start both servers (or reuse given ones) and the listed nodes; waits until each DC sees all its members. */
export async function startTwoDcs(
  ids: { east: string[]; west: string[] },
  xdc: Partial<DataCenterReplicationOptions> = {},
  servers: Partial<Record<DcName, NatsServer>> = {},
): Promise<TwoDcs> {
  const started: NatsServer[] = [];
  const children = new Set<ChildProcess>();
  const startServer = async (name: DcName): Promise<NatsServer> => {
    const given = servers[name];
    if (given !== undefined) return given;
    const s = await startNatsServer();
    started.push(s);
    return s;
  };
  let east: Dc | undefined;
  let west: Dc | undefined;
  try {
    east = { name: "east", server: await startServer("east"), nodes: [] };
    west = { name: "west", server: await startServer("west"), nodes: [] };
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw error;
  }
  const e = east;
  const w = west;
  const dcs: TwoDcs = {
    east: e,
    west: w,
    dc: (name) => (name === "east" ? e : w),
    remoteUrl: { east: w.server.url, west: e.server.url },
    async add(dc, id, more = {}, x = {}) {
      const d = dcs.dc(dc);
      const r = await Replicator.start({ ...nodeOptions(dc, id, d.server.url, dcs.remoteUrl[dc], { ...xdc, ...x }), ...more });
      d.nodes.push(r);
      return r;
    },
    async addChild(dc, id, x = {}) {
      const d = dcs.dc(dc);
      const opts = nodeOptions(dc, id, d.server.url, dcs.remoteUrl[dc], { ...xdc, ...x });
      const script = fileURLToPath(new URL("./fixtures/node.ts", import.meta.url));
      const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(opts)], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      children.add(child);
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      void exited.then(() => children.delete(child));
      const lines = createInterface({ input: child.stdout! });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child ${id} did not start within 20 s`)), 20_000);
        lines.on("line", (line) => {
          if (line === `ready ${id}`) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`child ${id} exited before it was ready`));
        });
      }).catch(async (error: unknown) => {
        child.kill("SIGKILL");
        await exited;
        throw error;
      });
      return {
        id,
        pid: child.pid!,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
      };
    },
    async close() {
      const waits = [...children].map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once("exit", () => resolve());
        c.kill("SIGKILL");
      }));
      await Promise.allSettled([...e.nodes, ...w.nodes].map((n) => n.close()));
      await Promise.allSettled(waits);
      await Promise.allSettled(started.map((s) => s.stop()));
    },
  };
  process.once("exit", () => {
    for (const c of children) if (c.pid !== undefined) try { process.kill(c.pid, "SIGKILL"); } catch { /* gone */ }
  });
  try {
    for (const id of ids.east) await dcs.add("east", id);
    for (const id of ids.west) await dcs.add("west", id);
    await settle(dcs);
  } catch (error) {
    await dcs.close();
    throw error;
  }
  return dcs;
}

/**
 * Each DC's nodes see each other and agree on one leader, and that leader's start-up cross-DC
 * digest round is done (so it does not run in the middle of a test).
 */
export async function settle(dcs: TwoDcs, timeoutMs = 15_000): Promise<void> {
  for (const d of [dcs.east, dcs.west]) {
    const open = d.nodes.filter((n) => !closed(n));
    if (open.length === 0) continue;
    await waitFor(
      () => open.every((n) => n.members().filter((m) => m.reachable).length === open.length) && new Set(open.map((n) => n.leader())).size === 1,
      { timeoutMs, message: `${d.name}: members/leader did not settle`, describe: () => open.map((n) => [n.nodeId, n.leader(), n.members().length]) },
    );
    const leader = open.find((n) => n.isLeader);
    const otherDc = d === dcs.east ? dcs.west : dcs.east;
    // (With nobody in the other DC to answer, the round fails and is not counted.)
    if (leader !== undefined && otherDc.nodes.some((n) => !closed(n))) await leaderRoundDone(leader, `${d.name}: the leader's first cross-DC round`, timeoutMs);
  }
}

/** Wait until `leader` completed a cross-DC digest round (a leader's or a reconnect's; a failed one is not counted). */
export async function leaderRoundDone(leader: Replicator, message: string, timeoutMs = 15_000): Promise<void> {
  const rounds = (): number => (leader.stats.repairs.get("leader") ?? 0) + (leader.stats.repairs.get("reconnect") ?? 0);
  await waitFor(() => rounds() >= 1, { timeoutMs, message });
}

function closed(r: Replicator): boolean {
  try {
    r.keys();
    return false;
  } catch {
    return true;
  }
}

/**
 * Resolve once `read()` has not changed for `windowMs` (polled every `intervalMs`); reject if it
 * keeps changing until `timeoutMs`. A bounded way to assert "this stops growing".
 */
export async function waitStable(read: () => number, windowMs: number, timeoutMs: number, message: string): Promise<number> {
  let value = read();
  let since = Date.now();
  await waitFor(
    () => {
      const v = read();
      if (v !== value) {
        value = v;
        since = Date.now();
      }
      return Date.now() - since >= windowMs;
    },
    { timeoutMs, intervalMs: 25, message, describe: () => value },
  );
  return value;
}
