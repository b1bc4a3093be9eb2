/** Lock and semaphore against a real `nats-server -js`: FIFO, try, release rules, leases, fencing, timeouts. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ConfigError, LockTimeoutError, Replicator, WaitAbortedError } from "../../src/index.js";
import { Distributed } from "../../src/distributed/distributed.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

describe("lock on JetStream", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const ds: Distributed[] = [];
  const fresh = (): Distributed => {
    const d = new Distributed({ connection: nc, nodeId: `n${ds.length}`, subject: "test.deltas" });
    ds.push(d);
    return d;
  };
  let n = 0;
  const name = (): string => `lock-${++n}`;

  before(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await Promise.all(ds.map((d) => d.close()));
    await nc?.close();
    await server?.stop();
  });

  it("grants one holder at a time, FIFO among waiters, with strictly increasing fencing tokens", async () => {
    const lockName = name();
    const [a, b, c] = [fresh().lock(lockName), fresh().lock(lockName), fresh().lock(lockName)];
    const ga = await a.acquire();
    assert.equal(a.held, true);
    const order: string[] = [];
    const pb = b.acquire().then((g) => (order.push("b"), g));
    await waitFor(async () => (await a.inspect()).waiting === 1);
    const pc = c.acquire().then((g) => (order.push("c"), g));
    await waitFor(async () => (await a.inspect()).waiting === 2);
    assert.equal(await c.tryAcquire(), undefined, "tryAcquire answers no while held");
    assert.equal(await b.release(), false, "a waiter cannot release");
    assert.equal(await a.release(), true);
    assert.equal(a.held, false);
    const gb = await pb;
    assert.ok(gb.fencingToken > ga.fencingToken);
    assert.equal(await b.release(), true);
    const gc = await pc;
    assert.ok(gc.fencingToken > gb.fencingToken);
    assert.deepEqual(order, ["b", "c"]);
    assert.equal(await a.release(), false, "a former holder cannot release");
    assert.equal(await c.release(), true);
    const again = await a.tryAcquire();
    assert.ok(again !== undefined && again.fencingToken > gc.fencingToken, "tryAcquire grants a free lock");
    await a.release();
  });

  it("times out and aborts with typed errors, leaving the queue", async () => {
    const lockName = name();
    const [a, b] = [fresh().lock(lockName), fresh().lock(lockName)];
    await a.acquire();
    await assert.rejects(b.acquire({ timeoutMs: 300 }), LockTimeoutError);
    const ac = new AbortController();
    const p = b.acquire({ signal: ac.signal });
    ac.abort();
    await assert.rejects(p, WaitAbortedError);
    await waitFor(async () => (await a.inspect()).waiting === 0, { message: "the waiters left the queue" });
    await a.release();
  });

  it("a holder that stops renewing loses the lock after its TTL; the waiter gets it and a larger token", async () => {
    const lockName = name();
    const lost: number[] = [];
    const a = fresh().lock(lockName, { ttlMs: 600, autoRenew: false, onLost: (t) => lost.push(t) });
    const b = fresh().lock(lockName, { ttlMs: 600 });
    const ga = await a.acquire();
    const started = performance.now();
    const gb = await b.acquire({ timeoutMs: 5_000 });
    assert.ok(gb.fencingToken > ga.fencingToken);
    assert.ok(performance.now() - started >= 500, "not before the lease expired");
    assert.equal(await a.release(ga.fencingToken), false, "the lapsed token releases nothing");
    assert.equal(await a.renew(ga.fencingToken), undefined, "nor renews");
    // b renews its own lease: it still holds after several TTLs.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(b.held, true);
    assert.equal(await b.release(), true);
  });

  it("a semaphore admits up to N holders, one owner may hold several grants", async () => {
    const semName = name();
    const [a, b] = [fresh().semaphore(semName, 3), fresh().semaphore(semName, 3)];
    const g1 = await a.acquire();
    const g2 = await a.acquire({ permits: 2 });
    assert.deepEqual([...a.held].sort(), [g1.fencingToken, g2.fencingToken].sort());
    assert.equal(await b.tryAcquire(), undefined);
    const pb = b.acquire({ permits: 2, timeoutMs: 5_000 });
    assert.equal(await a.release(g1.fencingToken), true);
    assert.equal(await Promise.race([pb.then(() => "granted"), new Promise((r) => setTimeout(() => r("waiting"), 300))]), "waiting", "2 permits are not free yet");
    assert.equal(await a.release(), true);
    const gb = await pb;
    assert.ok(gb.fencingToken > g2.fencingToken);
    assert.equal(gb.permits, 2);
  });

  it("replicator.distributed() on the in-memory transport refuses JetStream primitives with a ConfigError", async () => {
    const { MemoryNetwork } = await import("../../src/index.js");
    const net = new MemoryNetwork();
    const r = await Replicator.start({ nodeId: "mem", transport: net.connect("mem") });
    try {
      assert.throws(() => r.distributed().lock("x"), ConfigError);
    } finally {
      await r.close();
    }
  });
});
