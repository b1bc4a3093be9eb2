// Token buckets decided without a network (src/replicator/rate-limit.ts), and the hello reply
// subjects members agree to publish on (src/replicator/identity.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { helloReplyTo, isHelloReplyTo } from "../../src/replicator/identity.js";
import { Pacer } from "../../src/replicator/pacing.js";
import { RateLimiter, refill } from "../../src/replicator/rate-limit.js";
import { BULK_LIMITS, PACING, STATE_LIMITS } from "../../src/replicator/request-server.js";
import { VirtualClock } from "../sim/virtual-clock.js";

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

describe("RateLimiter.waitMs", () => {
  it("says how long until both buckets hold a token again, keeping nothing for a new source", () => {
    const l = new RateLimiter({ perSource: { perSecond: 10, burst: 5 }, total: { perSecond: 100, burst: 100 }, maxSources: 3 });
    assert.equal(l.waitMs("a", 0), 0);
    assert.equal(l.size, 0, "asking creates no bucket");
    l.charge("a", 25, 0); // 20 tokens in debt: 2 s at 10 a second
    const wait = l.waitMs("a", 0);
    assert.ok(wait > 2_000 && wait < 2_001, `${wait}`);
    assert.equal(l.allow("a", wait - 1), false);
    assert.equal(l.allow("a", wait), true);
    l.charge("b", 250, 3_000); // the shared bucket in debt: 1.5 s at 100 a second
    assert.ok(l.waitMs("c", 3_000) > 1_500, "the shared bucket holds everyone back");
  });
});

describe("Pacer", () => {
  it("runs a held request when its wait is over, and holds within its bounds only", async () => {
    const clock = new VirtualClock(0);
    const pacer = new Pacer({ perSource: 2, total: 3, maxWaitMs: 1_000 }, clock);
    const ran: string[] = [];
    assert.equal(pacer.hold("a", 100, () => ran.push("a1")), true);
    assert.equal(pacer.hold("a", 200, () => ran.push("a2")), true);
    assert.equal(pacer.hold("a", 50, () => ran.push("a3")), false, "per source");
    assert.equal(pacer.hold("b", 1_001, () => ran.push("b0")), false, "longer than the requester waits");
    assert.equal(pacer.hold("b", 100, () => ran.push("b1")), true);
    assert.equal(pacer.hold("c", 100, () => ran.push("c1")), false, "in all");
    assert.equal(pacer.size, 3);
    await clock.advance(99);
    assert.equal(ran.length, 0);
    await clock.advance(1);
    assert.deepEqual(ran.sort(), ["a1", "b1"]);
    assert.equal(pacer.size, 1);
    assert.equal(pacer.hold("c", 10, () => ran.push("c1")), true, "room again");
    // Held again after waiting: the bound counts from the first wait.
    assert.equal(pacer.hold("d", 950, () => undefined, -100), false);
    await clock.advance(200);
    assert.deepEqual(ran.sort(), ["a1", "a2", "b1", "c1"]);
    assert.equal(pacer.size, 0);
  });

  it("bounds what requesters may take: state a quarter of the loop, bulk pages half, a few waiting", () => {
    assert.ok(STATE_LIMITS.total.perSecond <= 250 && STATE_LIMITS.perSource.perSecond <= 250, "a quarter of a second per second");
    assert.ok(BULK_LIMITS.total.perSecond <= 500 && BULK_LIMITS.perSource.perSecond <= 500, "half a second per second");
    for (const limits of [STATE_LIMITS, BULK_LIMITS]) assert.ok(limits.maxSources <= 1024);
    assert.ok(BULK_LIMITS.total.burst <= 2_500);
    assert.ok(PACING.total <= 32 && PACING.perSource <= 4 && PACING.maxWaitMs < 5_000, "under the default request timeout");
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
