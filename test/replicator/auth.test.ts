/** A nats-server that requires user/password: the right credentials replicate, wrong ones fail clearly. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ConnectionError, Key, Replicator } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

describe("user/password authentication", () => {
  let server: NatsServer;
  const open: Replicator[] = [];
  before(async () => {
    server = await startNatsServer({ user: "crdt", password: "s3cret-pw" });
  });
  after(async () => {
    await Promise.allSettled(open.map((r) => r.close()));
    await server.stop();
  });

  test("correct credentials: two nodes replicate", async () => {
    for (const id of ["a", "b"]) {
      open.push(await Replicator.start({ nodeId: id, nats: { servers: server.url, user: "crdt", pass: "s3cret-pw" }, ...FAST }));
    }
    const [a, b] = open as [Replicator, Replicator];
    const k = Key.pncounter("authed");
    await a.update(k, (v, self) => v.increment(self, 5));
    await b.update(k, (v, self) => v.decrement(self, 2));
    await waitFor(() => open.every((n) => n.get(k)?.value === 3));
  });

  test("wrong password: start rejects with ConnectionError saying authentication failed, without the password", async () => {
    const started = Date.now();
    await assert.rejects(
      Replicator.start({ nodeId: "intruder", nats: { servers: server.url, user: "crdt", pass: "wrong" }, ...FAST }),
      (e: unknown) =>
        e instanceof ConnectionError &&
        e.name === "ConnectionError" &&
        /authentication failed|authorization/i.test(e.message) &&
        !e.message.includes("wrong"),
    );
    assert.ok(Date.now() - started < 10_000, "fails promptly, no endless retry");
  });

  test("no credentials at all: ConnectionError too", async () => {
    await assert.rejects(Replicator.start({ nodeId: "anon", nats: { servers: server.url }, ...FAST }), ConnectionError);
  });

  test("credentials in the URL are redacted from the error", async () => {
    const url = server.url.replace("nats://", "nats://crdt:leaky-pw@");
    await assert.rejects(
      Replicator.start({ nodeId: "urlauth", nats: { servers: url }, ...FAST }),
      (e: unknown) => e instanceof ConnectionError && !e.message.includes("leaky-pw"),
    );
  });

  test("an unreachable server: ConnectionError naming the address", async () => {
    const stopped = await startNatsServer();
    const url = stopped.url;
    await stopped.stop();
    await assert.rejects(
      Replicator.start({ nodeId: "nobody", nats: { servers: url }, ...FAST }),
      (e: unknown) => e instanceof ConnectionError && e.message.includes(url.replace("nats://", "")),
    );
  });
});
