/** The lock/semaphore protocol's pure decisions (lease-state.ts), without NATS. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  LIMITS,
  decodeLeaseEntry,
  emptyEntry,
  encodeLeaseEntry,
  expiredMembers,
  join,
  memberId,
  permitsHeld,
  renewed,
  settle,
  sight,
  transition,
  without,
  type LeaseEntry,
} from "../../src/distributed/lease-state.js";
import { casModeFor } from "../../src/distributed/buckets.js";

/** A random history of writes: joins, releases of holders, and evictions, each at a later revision. */
const op = fc.oneof(
  fc.record({ kind: fc.constant("join" as const), permits: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("evict" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("renew" as const), pick: fc.nat() }),
);

describe("lease-state", () => {
  it("never grants more permits than there are, grants in ticket order, and every token is larger than all before", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 60, maxLength: 60 }), (permits, ops, gaps) => {
        let entry = emptyEntry(permits);
        let revision = 0;
        let highest = 0;
        ops.forEach((o, i) => {
          const before = entry;
          const next = transition(
            entry,
            revision,
            (e) => {
              if (o.kind === "join") return o.permits <= permits ? join(e, `o${i}`, o.permits, 1000).entry : undefined;
              const pool = o.kind === "release" ? e.members.filter((m) => m.token !== undefined) : e.members;
              const m = pool[o.pick % Math.max(1, pool.length)];
              if (m === undefined || o.kind === "evict") return undefined;
              return o.kind === "release" ? without(e, new Set([memberId(m)])) : renewed(e, new Set([memberId(m)]));
            },
            o.kind === "evict" && entry.members.length > 0 ? [entry.members[o.pick % entry.members.length]!] : [],
          );
          if (next === undefined) return;
          revision += gaps[i]!; // other keys of the bucket take revisions too
          entry = next;
          assert.ok(permitsHeld(entry) <= permits, "held permits within the limit");
          const newTokens = entry.members.filter((m) => m.token !== undefined && !before.members.some((b) => b.ticket === m.ticket && b.token !== undefined));
          for (const m of newTokens.sort((a, b) => a.ticket - b.ticket)) {
            assert.ok(m.token! > highest, `token ${m.token} > ${highest}`);
            highest = m.token!;
          }
          // FIFO: granted members form a prefix of the ticket order among those still there.
          const firstWaiting = entry.members.findIndex((m) => m.token === undefined);
          if (firstWaiting >= 0) {
            assert.ok(entry.members.slice(firstWaiting).every((m) => m.token === undefined || before.members.some((b) => b.ticket === m.ticket && b.token !== undefined)), "no grant past a waiter");
            assert.ok(permits - permitsHeld(entry) < entry.members[firstWaiting]!.permits, "a waiter only waits when its permits are not free");
          }
          assert.deepEqual(decodeLeaseEntry(encodeLeaseEntry(entry)), entry, "round-trips on the wire");
        });
      }),
    );
  });

  it("judges a lease expired only after the observer saw its beat unchanged for longer than its TTL", () => {
    let e = join(emptyEntry(1), "a", 1, 1000).entry;
    e = settle(e, 7);
    assert.equal(e.members[0]!.token, 8, "token = revision replaced + 1");
    let seen = sight(new Map(), e, 5_000);
    assert.deepEqual(expiredMembers(e, seen, 6_000), [], "exactly the TTL is not yet expired");
    assert.equal(expiredMembers(e, seen, 6_001).length, 1);
    // A renewal seen at 5 900 restarts the clock there.
    const r = renewed(e, new Set([memberId(e.members[0]!)]));
    seen = sight(seen, r, 5_900);
    assert.deepEqual(expiredMembers(r, seen, 6_500), []);
    assert.equal(expiredMembers(r, seen, 6_901).length, 1);
    // Seeing the same beat again (another member's write) does not restart it.
    seen = sight(seen, r, 6_800);
    assert.equal(expiredMembers(r, seen, 6_901).length, 1);
    // A member never seen before is not expired, whatever the time: its clock starts now.
    assert.deepEqual(expiredMembers(r, new Map(), 1e12), []);
  });

  it("a grant's token stays above the fence even when the key was purged (revision restarts low relative to fence)", () => {
    const e = { ...emptyEntry(1), fence: 50 };
    assert.equal(settle(join(e, "a", 1, 1000).entry, 3).members[0]!.token, 51);
  });

  it("rejects malformed entries instead of throwing", () => {
    const bad = [
      "",
      "null",
      "[]",
      '{"permits":0,"nextTicket":1,"fence":0,"members":[]}',
      '{"permits":1,"nextTicket":1,"fence":0,"members":[{"owner":"a","ticket":1,"permits":1,"ttlMs":1000,"beat":0}]}', // ticket >= nextTicket
      '{"permits":1,"nextTicket":3,"fence":0,"members":[{"owner":"a","ticket":1,"permits":1,"ttlMs":1000,"beat":0,"token":5}]}', // token above fence
      '{"permits":1,"nextTicket":3,"fence":0,"members":[{"owner":"","ticket":1,"permits":1,"ttlMs":1000,"beat":0}]}',
      '{"permits":1,"nextTicket":3,"fence":0,"members":[{"owner":"a","ticket":1,"permits":1,"ttlMs":5,"beat":0}]}', // TTL below the minimum
    ];
    for (const text of bad) assert.equal(decodeLeaseEntry(new TextEncoder().encode(text)), undefined, text);
    assert.equal(decodeLeaseEntry(new Uint8Array(LIMITS.maxEntryBytes + 1).fill(32)), undefined, "oversized");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodeLeaseEntry(bytes); // never throws
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const e = decodeLeaseEntry(new TextEncoder().encode(JSON.stringify(v)));
        if (e !== undefined) assert.ok(e.permits >= 1 && e.members.every((m) => m.ticket < e.nextTicket));
      }),
    );
  });

  it("an eviction alone is worth a write; nothing to change and nothing expired is not", () => {
    const e: LeaseEntry = settle(join(emptyEntry(1), "a", 1, 1000).entry, 0);
    assert.equal(transition(e, 1, () => undefined, []), undefined);
    const evicted = transition(e, 1, () => undefined, [e.members[0]!]);
    assert.deepEqual(evicted?.members, []);
  });
});

describe("compare-and-set mode", () => {
  it("per key on a single server and on clustered 2.10+, on the stream's sequence on clustered servers before 2.10 (nats-server#4320)", () => {
    assert.equal(casModeFor({ version: "2.9.10" }), "subject");
    assert.equal(casModeFor({ cluster: "c", version: "2.9.10" }), "stream");
    assert.equal(casModeFor({ cluster: "c", version: "2.10.0" }), "subject");
    assert.equal(casModeFor({ cluster: "c", version: "2.12.1" }), "subject");
    assert.equal(casModeFor({ cluster: "c" }), "stream");
  });
});
