/**
 * The lean compare-and-set write path (cas-writer.ts, pub-ack.ts, KvKey.write) against a real
 * `nats-server -js`: both CAS modes land and conflict as JetStream decides, JetStream API errors
 * keep their classification, and answers that are not acks (forged, malformed) are counted and
 * ignored, never taken for a write.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { JetStreamApiError, JetStreamError, PubHeaders } from "@nats-io/jetstream";
import { connect, errors, headers, type NatsConnection } from "@nats-io/transport-node";
import { bucketName, openBucket } from "../../src/distributed/buckets.js";
import { CasWriter, type CasTarget } from "../../src/distributed/cas-writer.js";
import { isConflict, isTransient, KvKey, type OpenBucket } from "../../src/distributed/kv-key.js";
import { parsePubAck } from "../../src/distributed/pub-ack.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { rawForger } from "../helpers/raw-forger.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("PubAck parsing (untrusted bytes)", () => {
  it("takes a stored message's sequence and a JetStream API error; nothing else", () => {
    assert.deepEqual(parsePubAck(bytes('{"stream":"KV_b","seq":8,"domain":"x"}'), "KV_b", 7), { seq: 8 });
    assert.deepEqual(parsePubAck(bytes('{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}'), "KV_b", 7), {
      error: { code: 400, err_code: 10071, description: "wrong last sequence: 3" },
    });
    for (const forged of [
      "",
      "not json",
      "[1]",
      '"KV_b"',
      '{"stream":"KV_other","seq":8}', // another stream's ack
      '{"stream":"KV_b","seq":7}', // a sequence that cannot follow the expected one
      '{"stream":"KV_b","seq":"8"}',
      '{"stream":"KV_b","seq":8.5}',
      '{"stream":"KV_b"}',
      '{"error":"wrong last sequence"}',
      '{"error":{"code":400,"err_code":"10071","description":"x"}}',
      '{"error":{"code":400,"err_code":10071}}',
    ]) {
      assert.equal(parsePubAck(bytes(forged), "KV_b", 7), undefined, forged);
    }
    assert.equal(parsePubAck(new Uint8Array([0x7b, 0xff, 0x7d]), "KV_b", 7), undefined, "not UTF-8");
    assert.equal(parsePubAck(bytes(`{"stream":"KV_b","seq":8,"pad":"${"x".repeat(5000)}"}`), "KV_b", 7), undefined, "oversized");
  });
});

describe("compare-and-set writes on JetStream", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let opened: OpenBucket;
  let n = 0;
  const key = (bucket: OpenBucket = opened): KvKey<string> => new KvKey(() => Promise.resolve(bucket), `key-${++n}`, (b) => (b.length > 0 && b[0] !== 0x21 ? text(b) : undefined));

  before(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
    opened = await openBucket(nc, "cas-test", "locks", {});
  });
  after(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("subject mode: creates, updates from the read revision, and a stale revision is a conflict", async () => {
    const k = key();
    const empty = await k.read();
    assert.equal(empty.revision, 0);
    const r1 = await k.write(bytes("one"), empty);
    assert.ok(typeof r1 === "number" && r1 > 0);
    assert.equal(await k.write(bytes("again"), empty), "conflict", "a second create conflicts");
    const read1 = await k.read();
    assert.deepEqual([read1.value, read1.revision], ["one", r1]);
    const r2 = await k.write(bytes("two"), read1);
    assert.ok(typeof r2 === "number" && r2 > r1);
    assert.equal(await k.write(bytes("stale"), read1), "conflict", "a write from an old revision conflicts");
    const e = await opened.kv.get(k.key);
    assert.deepEqual([e === null ? undefined : text(e.value), e?.revision], ["two", r2], "the KV API sees what the lean path wrote");
    // Another key's write does not disturb this key's check (per-subject sequence).
    await key().write(bytes("other"), { value: undefined, revision: 0, cas: 0 });
    const r3 = await k.write(bytes("three"), await k.read());
    assert.ok(typeof r3 === "number" && r3 > r2);
  });

  it("stream mode (the nats-server 2.9 cluster workaround): expects the stream's last sequence, so any write since conflicts", async () => {
    const streamBucket: OpenBucket = { ...opened, cas: "stream" };
    const k = key(streamBucket);
    const read0 = await k.read();
    assert.equal(read0.revision, 0);
    const r1 = await k.write(bytes("one"), read0);
    assert.ok(typeof r1 === "number" && r1 > read0.cas);
    const read1 = await k.read();
    assert.deepEqual([read1.value, read1.revision, read1.cas], ["one", r1, r1]);
    await key().write(bytes("other"), { value: undefined, revision: 0, cas: 0 }); // subject mode: lands
    assert.equal(await k.write(bytes("two"), read1), "conflict", "another key's write moved the stream on");
    const read2 = await k.read();
    assert.equal(read2.revision, r1);
    assert.ok(read2.cas > r1);
    const r2 = await k.write(bytes("two"), read2);
    assert.ok(typeof r2 === "number" && r2 > read2.cas);
  });

  it("keeps JetStream's error classification: a wrong last sequence is a JetStreamApiError that isConflict", async () => {
    const k = key();
    const r1 = await k.write(bytes("one"), { value: undefined, revision: 0, cas: 0 });
    assert.equal(typeof r1, "number");
    const h = headers();
    h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, "0");
    const bucket = bucketName("cas-test", "locks");
    const target: CasTarget = { subject: `$KV.${bucket}.${k.key}`, stream: `KV_${bucket}`, headers: h, rejected: () => assert.fail("a real ack was rejected") };
    const error: unknown = await CasWriter.of(nc).publish(bytes("x"), target, 0).then(
      () => assert.fail("a create over an existing key must fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JetStreamApiError, String(error));
    assert.equal(error.code, 10071);
    assert.equal(isConflict(error), true);
    assert.equal(isTransient(error), false);
  });

  it("ignores and counts answers that are not acks of the expected stream; settles on the real one", async () => {
    let nth = 0;
    const forger = nc.subscribe("forged.ack", {
      callback: (_e, m) => {
        nth++;
        for (const reply of ["garbage", '{"stream":"KV_elsewhere","seq":99}', '{"stream":"KV_b","seq":3}', '{"error":"no"}', '{"stream":"KV_b","seq":50}']) m.respond(bytes(reply));
      },
    });
    let rejected = 0;
    const target: CasTarget = { subject: "forged.ack", stream: "KV_b", headers: headers(), rejected: () => rejected++ };
    assert.equal(await CasWriter.of(nc).publish(bytes("x"), target, 3), 50);
    assert.equal(rejected, 4, "four forged or malformed answers counted");
    assert.equal(nth, 1);
    forger.unsubscribe();
  });

  it("an answer with unreadable headers (from a raw socket) is counted, and the connection lives on", async () => {
    const ack = '{"stream":"KV_b","seq":9}';
    const close = await rawForger(server.port, "raw.forger", (reply) => `PUB ${reply} ${ack.length}\r\n${ack}\r\n`);
    try {
      let rejected = 0;
      const target: CasTarget = { subject: "raw.forger", stream: "KV_b", headers: headers(), rejected: () => rejected++ };
      assert.equal(await CasWriter.of(nc).publish(bytes("x"), target, 0), 9, "settled by the well-formed ack after the broken one");
      assert.equal(rejected, 1);
      assert.equal(nc.isClosed(), false);
      const k = key();
      assert.equal(typeof (await k.write(bytes("still writing"), await k.read())), "number");
    } finally {
      close();
    }
  });

  it("a write with only forged answers times out (transient: the caller re-reads); nothing answering is final", async () => {
    const forger = nc.subscribe("forged.only", { callback: (_e, m) => void m.respond(bytes('{"stream":"KV_x","seq":1}')) });
    let rejected = 0;
    const target: CasTarget = { subject: "forged.only", stream: "KV_b", headers: headers(), rejected: () => rejected++ };
    const timedOut: unknown = await CasWriter.of(nc).publish(bytes("x"), target, 0).then(
      () => assert.fail("a forged ack was taken"),
      (e: unknown) => e,
    );
    assert.ok(timedOut instanceof errors.TimeoutError, String(timedOut));
    assert.equal(isTransient(timedOut), true);
    assert.equal(rejected, 1);
    forger.unsubscribe();
    const nobody: unknown = await CasWriter.of(nc).publish(bytes("x"), { ...target, subject: "nobody.here" }, 0).then(
      () => assert.fail("nobody answered"),
      (e: unknown) => e,
    );
    assert.ok(nobody instanceof JetStreamError, String(nobody));
    assert.equal(isTransient(nobody), false, "no responders is final, as through js.publish");
    assert.equal(isConflict(nobody), false);
  });

  it("a closed connection fails the writes waiting for an answer", async () => {
    const other = await connect({ servers: server.url });
    const silent = other.subscribe("silent.subject", { callback: () => undefined });
    await other.flush();
    const waiting = CasWriter.of(other).publish(bytes("x"), { subject: "silent.subject", stream: "KV_b", headers: headers(), rejected: () => undefined }, 0);
    await other.flush();
    silent.unsubscribe();
    await other.close();
    await assert.rejects(waiting, (e: unknown) => e instanceof errors.ClosedConnectionError);
    assert.throws(() => CasWriter.of(other), (e: unknown) => e instanceof errors.ClosedConnectionError, "no writer on a closed connection");
  });
});
