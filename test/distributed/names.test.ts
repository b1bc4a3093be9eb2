/** The pure parts of the distributed objects: derived NATS names, ack receipts, topic frames, codecs. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeError, InvalidArgumentError } from "../../src/index.js";
import { decodeChecked, encodeChecked, jsonCodec } from "../../src/distributed/codec.js";
import { checkName, isReceiptOf, queueNames, receiptOf, token, topicSubject } from "../../src/distributed/names.js";
import { decodeTopicFrame, encodeTopicFrame } from "../../src/distributed/topic-frame.js";

test("names: readable, NATS-safe, and distinct for names that sanitize alike", () => {
  const a = queueNames("crdt.deltas", "jobs.high priority");
  assert.match(a.stream, /^QUEUE_crdt_deltas_jobs_high_priority_[0-9a-f]{8}$/);
  assert.match(a.subject, /^crdt\.deltas\.queue\.jobs_high_priority_[0-9a-f]{8}$/);
  const b = queueNames("crdt.deltas", "jobs_high_priority");
  assert.notEqual(a.stream, b.stream);
  assert.notEqual(a.subject, b.subject);
  assert.notEqual(queueNames("other", "jobs").stream, queueNames("crdt.deltas", "jobs").stream, "replicators on other subjects never share a queue");
  assert.notEqual(topicSubject("crdt.deltas", "a*b"), topicSubject("crdt.deltas", "a>b"));
  for (const name of ["*", ">", "a b", "ü", "x".repeat(128)]) assert.match(token(name), /^[A-Za-z0-9_-]+$/);
  assert.throws(() => checkName("", "queue"), InvalidArgumentError);
  assert.throws(() => checkName("x".repeat(129), "queue"), InvalidArgumentError);
  assert.throws(() => checkName("\ud800", "queue"), InvalidArgumentError);
  assert.throws(() => checkName(7, "queue"), InvalidArgumentError);
});

test("receipts: only ack subjects of this queue's stream and consumer, in either server format", () => {
  const n = queueNames("crdt.deltas", "jobs");
  const old = `$JS.ACK.${n.stream}.${n.consumer}.2.41.57.1796053012718339167.3`;
  const withDomain = `$JS.ACK._.ACCHASH.${n.stream}.${n.consumer}.1.42.58.1796053012718339167.0.token`;
  assert.ok(isReceiptOf(n, old));
  assert.deepEqual(receiptOf(old), { deliveries: 2, sequence: 41 });
  assert.ok(isReceiptOf(n, withDomain));
  assert.deepEqual(receiptOf(withDomain), { deliveries: 1, sequence: 42 });
  const other = queueNames("crdt.deltas", "other");
  for (const bad of [
    old.replace(n.stream, other.stream),
    old.replace(n.consumer, "x"),
    `$JS.ACK.${n.stream}.${n.consumer}.*.41.57.1.3`,
    `$JS.ACK.${n.stream}.${n.consumer}.>`,
    `$JS.API.STREAM.DELETE.${n.stream}`,
    "crdt.deltas",
    `${old} x`,
    42,
    undefined,
  ]) {
    assert.equal(isReceiptOf(n, bad), false, String(bad));
  }
});

test("topic frames: round trip; garbage is a DecodeError", () => {
  const payload = new Uint8Array([1, 2, 3]);
  assert.deepEqual(decodeTopicFrame(encodeTopicFrame("node-1", payload)), { origin: "node-1", payload });
  for (const bad of [new Uint8Array(), new Uint8Array([2, 1, 97, 0]), new Uint8Array([1, 200, 97]), new Uint8Array([1, 1, 0xff, 1]), new Uint8Array([1, 1, 0x2e, 1]), new Uint8Array([1, 0, 5])]) {
    assert.throws(() => decodeTopicFrame(bad), DecodeError);
  }
});

test("codec checks: too large or unencodable is an InvalidArgumentError; undecodable bytes are undefined", () => {
  assert.deepEqual(decodeChecked(jsonCodec, encodeChecked(jsonCodec, { a: [1, "x"] }, 100, "t"), 100), { value: { a: [1, "x"] } });
  assert.throws(() => encodeChecked(jsonCodec, "x".repeat(200), 100, "t"), /202 bytes, more than the 100/);
  assert.throws(() => encodeChecked(jsonCodec, undefined, 100, "t"), InvalidArgumentError);
  assert.throws(() => encodeChecked(jsonCodec, 1n, 100, "t"), InvalidArgumentError);
  assert.throws(() => encodeChecked({ encode: () => "nope" as never, decode: () => 1 }, 1, 100, "t"), /must return a Uint8Array/);
  assert.equal(decodeChecked(jsonCodec, new Uint8Array([0xff, 0xfe]), 100), undefined);
  assert.equal(decodeChecked(jsonCodec, new TextEncoder().encode("{"), 100), undefined);
  assert.equal(decodeChecked(jsonCodec, new TextEncoder().encode("1".repeat(101)), 100), undefined, "too large");
});
