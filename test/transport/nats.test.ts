import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import { connect } from "@nats-io/transport-node";
import { ConnectionError, InvalidArgumentError } from "../../src/errors.js";
import { connectNats, type NatsConnectionOptions, type NatsTransport } from "../../src/transport/nats.js";
import { RequestFailedError, type TransportStatus } from "../../src/transport/types.js";
import { freePort, startNatsServer, stopAllNatsServers, type NatsServer } from "../helpers/nats-server.js";
import { rawForger } from "../helpers/raw-forger.js";
import { startTcpProxy } from "../helpers/tcp-proxy.js";
import { waitFor, waitForEvent } from "../helpers/wait.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Connect and make sure the transport is closed when the test ends, pass or fail. */
async function open(t: TestContext, options: NatsConnectionOptions): Promise<NatsTransport> {
  const transport = await connectNats({ onHandlerError: () => {}, ...options });
  t.after(() => transport.close());
  return transport;
}

async function server(t: TestContext, opts: Parameters<typeof startNatsServer>[0] = {}): Promise<NatsServer> {
  const s = await startNatsServer(opts);
  t.after(() => s.stop());
  return s;
}

const statusOf = (tr: NatsTransport, type: TransportStatus["type"]): Promise<TransportStatus> =>
  waitForEvent(tr.onStatus.bind(tr), (s) => s.type === type, { timeoutMs: 15_000, message: `status ${type}` });

describe("NatsTransport against nats-server", () => {
  let shared: NatsServer;
  before(async () => {
    shared = await startNatsServer();
  });
  after(async () => {
    await shared?.stop();
    await stopAllNatsServers();
  });

  it("publishes, subscribes, requests and responds", async (t) => {
    const a = await open(t, { servers: shared.url });
    const b = await open(t, { servers: shared.url });
    const got: string[] = [];
    b.subscribe("t.pub", (m) => got.push(text(m.data)));
    b.subscribe("t.echo", (m) => b.respond(m.reply!, bytes(`re:${text(m.data)}`)));
    await b.flush(); // subscriptions registered on the server before anyone publishes

    a.publish("t.pub", bytes("hello"));
    await waitFor(() => got.length === 1, { describe: () => got });
    assert.deepEqual(got, ["hello"]);
    assert.equal(text(await a.request("t.echo", bytes("hi"), 5000)), "re:hi");
    assert.ok(a.bytesOut >= "hello".length + "hi".length);
  });

  it("an answer with a header no client would build (a forger's, from a raw socket) neither resets the connection nor fails the request", async (t) => {
    const a = await open(t, { servers: shared.url });
    const statuses: TransportStatus[] = [];
    a.onStatus((s) => statuses.push(s));
    t.after(await rawForger(shared.port, "t.forged"));
    assert.equal((await a.request("t.forged", bytes("x"), 5000)).length, 0, "the forged answer is an answer (authenticity is the security layer's)");
    // The connection lives on: it hears another's publish, and no disconnect was seen.
    const b = await open(t, { servers: shared.url });
    const got: string[] = [];
    a.subscribe("t.after", (m) => got.push(text(m.data)));
    await a.flush();
    b.publish("t.after", bytes("still here"));
    await waitFor(() => got.length === 1, { describe: () => ({ got, statuses }) });
    assert.deepEqual(statuses, []);
  });

  it("a borrowed connection's inboxPrefix is where its requests are answered (permissions may allow no other)", async (t) => {
    const nc = await connect({ servers: shared.url, inboxPrefix: "_MYINBOX" });
    t.after(() => nc.close());
    const a = await connectNats({ connection: nc });
    t.after(() => a.close());
    const b = await open(t, { servers: shared.url });
    const replies: string[] = [];
    b.subscribe("t.prefix", (m) => {
      replies.push(m.reply!);
      b.respond(m.reply!, bytes("ok"));
    });
    await b.flush();
    assert.equal(text(await a.request("t.prefix", bytes("x"), 5000)), "ok");
    assert.match(replies[0]!, /^_MYINBOX\./);
  });

  it("maps request failures to RequestFailedError reasons", async (t) => {
    const a = await open(t, { servers: shared.url });
    const b = await open(t, { servers: shared.url });
    await assert.rejects(a.request("t.nobody", bytes("x"), 5000), (e: unknown) => {
      return e instanceof RequestFailedError && e.reason === "no-responders";
    });
    b.subscribe("t.silent", () => {});
    await b.flush();
    await assert.rejects(a.request("t.silent", bytes("x"), 200), (e: unknown) => {
      return e instanceof RequestFailedError && e.reason === "timeout";
    });
  });

  it("queue groups deliver each message once", async (t) => {
    const pub = await open(t, { servers: shared.url });
    const counts = [0, 0];
    for (const i of [0, 1]) {
      const m = await open(t, { servers: shared.url });
      m.subscribe("t.work", () => counts[i]!++, { queue: "workers" });
      await m.flush();
    }
    for (let i = 0; i < 100; i++) pub.publish("t.work", bytes(String(i)));
    await pub.flush();
    await waitFor(() => counts[0]! + counts[1]! === 100, { describe: () => counts });
  });

  it("a throwing handler does not kill the subscription", async (t) => {
    const a = await open(t, { servers: shared.url });
    const pub = await open(t, { servers: shared.url });
    let calls = 0;
    a.subscribe("t.throw", () => {
      calls++;
      throw new Error("boom");
    });
    await a.flush();
    for (let i = 0; i < 3; i++) pub.publish("t.throw", bytes("x"));
    await waitFor(() => calls === 3, { describe: () => calls });
    assert.equal(a.handlerErrors, 3);
    // the connection is still healthy
    await a.flush();
  });

  it("does not hand a connection back its own messages (no echo)", async (t) => {
    const a = await open(t, { servers: shared.url });
    const b = await open(t, { servers: shared.url });
    const seen = { a: [] as string[], b: [] as string[] };
    a.subscribe("t.echo", (m) => seen.a.push(new TextDecoder().decode(m.data)));
    b.subscribe("t.echo", (m) => seen.b.push(new TextDecoder().decode(m.data)));
    await a.flush();
    await b.flush();
    a.publish("t.echo", bytes("from-a"));
    b.publish("t.echo", bytes("from-b"));
    await waitFor(() => seen.a.length === 1 && seen.b.length === 1, { describe: () => seen });
    // b's message reached a after a's own would have: a flush round trip on each side settles it.
    await a.flush();
    await b.flush();
    assert.deepEqual(seen, { a: ["from-b"], b: ["from-a"] });
  });

  it("does not close a borrowed connection", async (t) => {
    const nc = await connect({ servers: shared.url });
    t.after(() => nc.close());
    const tr = await connectNats({ connection: nc });
    let got = 0;
    tr.subscribe("t.borrowed", () => got++);
    await tr.flush();
    await tr.close();
    assert.equal(nc.isClosed(), false);
    nc.publish("t.borrowed", bytes("x"));
    await nc.flush();
    await nc.flush(); // a round trip after the publish: a live subscription would have it by now
    assert.equal(got, 0, "the transport's subscriptions are gone");
  });

  it("close() of an owned connection closes it and reports closed", async (t) => {
    const a = await open(t, { servers: shared.url });
    const closed = statusOf(a, "closed");
    await a.close();
    await closed;
    assert.equal(a.connection.isClosed(), true);
    assert.throws(() => a.publish("t.x", bytes("x")), ConnectionError);
  });

  it("reports the server's max_payload and refuses larger payloads", async (t) => {
    const s = await server(t, { maxPayload: 64 * 1024 });
    const a = await open(t, { servers: s.url });
    assert.equal(a.maxPayload, 64 * 1024);
    a.publish("t.big", new Uint8Array(64 * 1024));
    assert.throws(() => a.publish("t.big", new Uint8Array(64 * 1024 + 1)), InvalidArgumentError);
  });

  it("rejects wrong credentials and unreachable servers with ConnectionError", async (t) => {
    const s = await server(t, { user: "alice", password: "s3cret" });
    await assert.rejects(connectNats({ servers: s.url, user: "alice", pass: "wrong" }), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.match(e.message, /authentication failed/);
      assert.ok(e.message.includes(s.url));
      return true;
    });
    const ok = await open(t, { servers: s.url, user: "alice", pass: "s3cret" });
    await ok.flush();

    const nobody = `nats://127.0.0.1:${await freePort()}`;
    await assert.rejects(connectNats({ servers: nobody }), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.match(e.message, /unreachable/);
      assert.ok(e.message.includes(nobody));
      return true;
    });
  });

  it("reconnects after a server restart and traffic flows again", async (t) => {
    const s = await server(t);
    const sub = await open(t, { servers: s.url });
    const pub = await open(t, { servers: s.url });
    const got: string[] = [];
    sub.subscribe("t.after-restart", (m) => got.push(text(m.data)));
    await sub.flush();

    const down = statusOf(sub, "disconnect");
    const up = statusOf(sub, "reconnect");
    await s.restart();
    await down;
    await up;
    // The publisher may be back before the subscriber re-registered its interest: keep publishing.
    await waitFor(
      () => {
        pub.publish("t.after-restart", bytes("again"));
        return got.length > 0;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: "a message after the restart" },
    );
    assert.equal(got[0], "again");
  });

  it("notices a cut link (reset and blackhole) and recovers when restored", async (t) => {
    const proxy = await startTcpProxy(shared.port);
    t.after(() => proxy.close());
    // Short pings so the blackholed link is declared dead quickly.
    const viaProxy = await open(t, { servers: proxy.url, pingInterval: 300, maxPingOut: 2 });
    const direct = await open(t, { servers: shared.url });
    const got: string[] = [];
    viaProxy.subscribe("t.proxy", (m) => got.push(text(m.data)));
    await viaProxy.flush();
    const deliveredAfter = async (label: string): Promise<void> => {
      const before = got.length;
      await waitFor(
        () => {
          direct.publish("t.proxy", bytes(label));
          return got.length > before;
        },
        { timeoutMs: 15_000, intervalMs: 100, message: `delivery ${label}` },
      );
    };

    for (const mode of ["reset", "blackhole"] as const) {
      const down = statusOf(viaProxy, "disconnect");
      proxy.cut(mode);
      await down;
      const up = statusOf(viaProxy, "reconnect");
      proxy.restore();
      await up;
      await deliveredAfter(mode);
    }
  });

  it("test helper: JetStream server, and a clear error when the binary is missing", async (t) => {
    const s = await server(t, { jetstream: true });
    const a = await open(t, { servers: s.url });
    assert.equal(a.connection.info?.jetstream, true);

    const saved = process.env["NATS_SERVER_BIN"];
    process.env["NATS_SERVER_BIN"] = "/nonexistent/nats-server";
    t.after(() => {
      if (saved === undefined) delete process.env["NATS_SERVER_BIN"];
      else process.env["NATS_SERVER_BIN"] = saved;
    });
    await assert.rejects(startNatsServer(), /apt-get install -y nats-server/);
  });
});
