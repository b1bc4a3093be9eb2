// Token buckets decided without a network (src/replicator/rate-limit.ts), and the hello reply
// subjects members agree to publish on (src/replicator/identity.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { helloReplyTo, isHelloReplyTo } from "../../src/replicator/identity.js";
import { RateLimiter, refill } from "../../src/replicator/rate-limit.js";

describe("refill", () => {
  it("starts full, refills at the rate up to the burst, never back in time", () => {
    const limit = { perSecond: 10, burst: 20 };
    assert.deepEqual(refill(undefined, limit, 5), { tokens: 20, atMs: 5 });
    assert.deepEqual(refill({ tokens: -5, atMs: 0 }, limit, 1_000), { tokens: 5, atMs: 1_000 });
    assert.deepEqual(refill({ tokens: 15, atMs: 0 }, limit, 10_000), { tokens: 20, atMs: 10_000 });
    assert.deepEqual(refill({ tokens: 3, atMs: 500 }, limit, 100), { tokens: 3, atMs: 500 });
  });
});

describe("RateLimiter", () => {
  const limiter = (): RateLimiter =>
    new RateLimiter({ perSource: { perSecond: 10, burst: 5 }, total: { perSecond: 100, burst: 12 }, maxSources: 3 });

  it("lets a source in while its bucket holds a token; a charge may leave it in debt", () => {
    const l = limiter();
    for (let i = 0; i < 5; i++) {
      assert.equal(l.allow("a", 0), true, `request ${i}`);
      l.charge("a", 1, 0);
    }
    assert.equal(l.allow("a", 0), false);
    assert.equal(l.allow("a", 100), true, "one token back after 100 ms");
    l.charge("a", 10, 100); // an expensive answer: in debt for a second
    assert.equal(l.allow("a", 1_000), false);
    assert.equal(l.allow("a", 1_200), true);
  });

  it("caps all sources together, so fresh ids do not help a flood", () => {
    const l = limiter();
    let allowed = 0;
    for (let i = 0; i < 100; i++) {
      const source = `s${i}`;
      if (l.allow(source, 0)) {
        allowed++;
        l.charge(source, 1, 0);
      }
    }
    assert.equal(allowed, 12);
    assert.ok(l.size <= 3, `${l.size} buckets kept`);
  });
});

describe("hello reply subjects", () => {
  it("accepts what a starting node makes, nothing else", () => {
    const replyTo = helloReplyTo("crdt", "n1");
    assert.equal(isHelloReplyTo("crdt", "n1", replyTo), true);
    assert.equal(isHelloReplyTo("crdt", "n2", replyTo), false, "another node's");
    assert.equal(isHelloReplyTo("crdt", "n1", "victim.subject"), false);
    assert.equal(isHelloReplyTo("crdt", "n1", "crdt.members.hello.n1.x.y"), false, "deeper");
    assert.equal(isHelloReplyTo("crdt", "n1", "crdt.members.hello.n1.>"), false, "a wildcard");
    assert.equal(isHelloReplyTo("crdt", "n1", "crdt.members.hello.n1."), false, "empty token");
  });
});
