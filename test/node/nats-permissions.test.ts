/**
 * deploy/nats-permissions.conf, as shipped, on a real nats-server: two crdt-nodes logged in with
 * their own users replicate a write (deltas, heartbeats, and a coordinated write's requests and
 * replies all pass); a replicator logged in as the observer cannot inject a write (the server
 * refuses its publish), while the same replicator logged in with a node's user can — the only
 * difference being the credential.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Key, Replicator } from "../../src/index.js";
import { parseConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { connectNats } from "../../src/transport/nats.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http, ROOT, waitReady } from "./helpers.js";

const PASSWORDS = { EAST_1_PASSWORD: "pw-east-1", EAST_2_PASSWORD: "pw-east-2", EAST_3_PASSWORD: "pw-east-3", WEST_PASSWORD: "pw-west", OBSERVER_PASSWORD: "pw-observer" };

describe("deploy/nats-permissions.conf on a real nats-server", () => {
  let server: NatsServer;
  let east1: Daemon, east2: Daemon;
  before(async () => {
    server = await startNatsServer({ config: readFileSync(join(ROOT, "deploy/nats-permissions.conf"), "utf8"), env: PASSWORDS });
    const node = async (id: string, password: string): Promise<Daemon> => {
      const r = parseConfig(["--node-id", id, "--dc", "east", "--http", "127.0.0.1:0", "--nats", server.url, "--nats-user", id], { CRDT_NATS_PASS: password });
      assert.ok("config" in r);
      return startDaemon(r.config, { log: () => undefined });
    };
    east1 = await node("east-1", PASSWORDS.EAST_1_PASSWORD);
    east2 = await node("east-2", PASSWORDS.EAST_2_PASSWORD);
    await Promise.all([waitReady(east1.url, {}, 30_000), waitReady(east2.url, {}, 30_000)]);
  });
  after(async () => {
    await Promise.allSettled([east1?.close(), east2?.close()]);
    await server?.stop();
  });

  test("two nodes with their own users see each other and replicate, including a coordinated write", async () => {
    await waitFor(async () => (await http("GET", `${east1.url}/v1/cluster`)).body?.members?.length === 2, { timeoutMs: 20_000, message: "east-1 sees 2 members" });
    const w = await http("POST", `${east1.url}/v1/keys/perm-hits`, { type: "gcounter", op: "increment", by: 2 });
    assert.equal(w.status, 200, w.text);
    await waitFor(async () => (await http("GET", `${east2.url}/v1/keys/perm-hits`)).body?.value === 2, { timeoutMs: 20_000, message: "east-2 reads east-1's write" });
    // consistency=all: requests on crdt.deltas.node.east-1 and replies on _INBOX.> pass too.
    await waitFor(async () => (await http("GET", `${east2.url}/v1/cluster`)).body?.members?.every((m: { counted: boolean }) => m.counted) === true, {
      timeoutMs: 20_000,
      message: "east-2 counts east-1",
    });
    const all = await http("POST", `${east2.url}/v1/keys/perm-hits?consistency=all`, { type: "gcounter", op: "increment", by: 1 });
    assert.equal(all.status, 200, all.text);
    await waitFor(async () => (await http("GET", `${east1.url}/v1/keys/perm-hits`)).body?.value === 3, { message: "east-1 reads 3" });
  });

  /** A raw connection logged in as `user`, and the subjects the server refused it to publish on. */
  async function login(user: string, pass: string): Promise<{ nc: NatsConnection; refused: string[] }> {
    const nc = await connect({ servers: server.url, user, pass });
    const refused: string[] = [];
    void (async () => {
      for await (const s of nc.status()) {
        const e = s.type === "error" ? (s.error as { operation?: string; subject?: string }) : undefined;
        if (e?.operation === "publish" && e.subject !== undefined) refused.push(e.subject);
      }
    })();
    return { nc, refused };
  }

  test("a replicator logged in as the observer cannot join: the server refuses its first request", async () => {
    const { nc } = await login("observer", PASSWORDS.OBSERVER_PASSWORD);
    try {
      await assert.rejects(
        Replicator.start({ nodeId: "forger", dataCenter: "east", transport: await connectNats({ connection: nc, onHandlerError: () => undefined }) }),
        /Permissions Violation for Publish to "crdt\.deltas\./,
      );
    } finally {
      await nc.close();
    }
  });

  test("a real delta published with the observer's user is refused and never applied; the same bytes from a node's user are", async () => {
    const forged = await deltaBytes();
    const observer = await login("observer", PASSWORDS.OBSERVER_PASSWORD);
    try {
      observer.nc.publish("crdt.deltas", forged);
      await observer.nc.flush();
      await waitFor(() => observer.refused.includes("crdt.deltas"), { timeoutMs: 20_000, message: "the server refuses the observer's delta", describe: () => observer.refused });
      // The server refused it before answering the flush; a node's write after that reaches east-1 after it would have.
      const marker = await http("POST", `${east2.url}/v1/keys/perm-marker`, { type: "flag", op: "enable" });
      assert.equal(marker.status, 200);
      await waitFor(async () => (await http("GET", `${east1.url}/v1/keys/perm-marker`)).body?.value === true, { message: "east-1 has the marker" });
      assert.equal((await http("GET", `${east1.url}/v1/keys/forged`)).status, 404, "the forged key never reached east-1");
      assert.equal((await http("GET", `${east2.url}/v1/keys/forged`)).status, 404);
    } finally {
      await observer.nc.close();
    }

    const member = await login("east-3", PASSWORDS.EAST_3_PASSWORD);
    try {
      member.nc.publish("crdt.deltas", forged);
      await waitFor(async () => (await http("GET", `${east1.url}/v1/keys/forged`)).body?.value === 1000, {
        timeoutMs: 20_000,
        message: "the same bytes with a node's user reach east-1: the refusal above is the permission's doing",
      });
      assert.deepEqual(member.refused, []);
    } finally {
      await member.nc.close();
    }
  });
});

/** The bytes of a real delta ("forged" += 1000 by node east-3), captured on a server of its own. */
async function deltaBytes(): Promise<Uint8Array> {
  const elsewhere = await startNatsServer();
  const spy = await connect({ servers: elsewhere.url });
  let r: Replicator | undefined;
  try {
    const sub = spy.subscribe("crdt.deltas", { max: 1 });
    await spy.flush();
    r = await Replicator.start({ nodeId: "east-3", dataCenter: "east", nats: { servers: elsewhere.url } });
    await r.update(Key.gcounter("forged"), (c, self) => c.increment(self, 1000));
    for await (const m of sub) return m.data;
    throw new Error("no delta captured");
  } finally {
    await r?.close();
    await spy.close();
    await elsewhere.stop();
  }
}
