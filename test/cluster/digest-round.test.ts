import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "../../src/errors.js";
import { DigestTree, LEAVES_PER_GROUP, groupOf, leafOf } from "../../src/cluster/digest-tree.js";
import {
  answerDigest,
  concatDiffs,
  groupsPerRequest,
  nextStep,
  openRound,
  splitLeafRequest,
  type DigestRequest,
  type KeyDiff,
} from "../../src/cluster/digest-round.js";
import { keyEntryHash } from "../../src/cluster/hashing.js";
import { KEY_POOL } from "./digest-keys.js";
import { assertProperty } from "./fc-seed.js";

/** A whole round, requester ↔ replier, with the messages passed by hand. */
function runRound(
  requester: DigestTree,
  replier: DigestTree,
  maxGroupsPerRequest: number,
  split = false, // as a shell does when a reply was too large: halve the request and retry
): KeyDiff {
  const open = openRound(requester);
  const first = nextStep(requester, open, answerDigest(replier, open), { maxGroupsPerRequest });
  if (first.kind === "diff") return first.diff;
  for (const req of first.requests) {
    assert.ok(req.buckets.length <= maxGroupsPerRequest * LEAVES_PER_GROUP);
  }
  const requests = split ? first.requests.flatMap(splitLeafRequest) : first.requests;
  return concatDiffs(
    requests.map((req) => {
      const reply = answerDigest(replier, req);
      const step = nextStep(requester, req, reply);
      assert.equal(step.kind, "diff");
      return step.kind === "diff" ? step.diff : concatDiffs([]);
    }),
  );
}

function expectedDiff(mine: Map<string, bigint>, theirs: Map<string, bigint>) {
  const sort = (xs: string[]) => xs.sort();
  return {
    theyLack: sort([...mine.keys()].filter((k) => !theirs.has(k))),
    iLack: sort([...theirs.keys()].filter((k) => !mine.has(k))),
    differ: sort([...mine].filter(([k, h]) => theirs.has(k) && theirs.get(k) !== h).map(([k]) => k)),
  };
}

function sorted(d: KeyDiff) {
  return { theyLack: [...d.theyLack].sort(), iLack: [...d.iLack].sort(), differ: [...d.differ].sort() };
}

const key = fc.oneof(fc.constantFrom(...KEY_POOL), fc.string({ maxLength: 12 }));
// Contents from a small pool, so many keys share identical contents (the cancellation trap).
const content = fc.bigInt({ min: 0n, max: 3n });
type Change = { key: string; content: bigint | undefined }; // undefined: the key is absent
const changes = fc.array(fc.record({ key, content: fc.option(content, { nil: undefined }) }), {
  maxLength: 40,
});

function build(base: Map<string, bigint>, edits: readonly Change[]): Map<string, bigint> {
  const out = new Map(base);
  for (const { key: k, content: c } of edits) {
    if (c === undefined) out.delete(k);
    else out.set(k, keyEntryHash(k, c));
  }
  return out;
}

describe("digest round", () => {
  it("finds exactly the keys that differ, both directions, no more, no less", () => {
    assertProperty(
      "round finds exact diff",
      fc.property(
        fc.array(fc.tuple(key, content), { maxLength: 80 }),
        changes,
        changes,
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        (baseEntries, editsA, editsB, maxGroups, split) => {
          const base = new Map(baseEntries.map(([k, c]) => [k, keyEntryHash(k, c)] as const));
          const mapA = build(base, editsA);
          const mapB = build(base, editsB);
          const a = DigestTree.from(mapA);
          const b = DigestTree.from(mapB);
          assert.deepEqual(sorted(runRound(a, b, maxGroups, split)), expectedDiff(mapA, mapB));
          assert.deepEqual(sorted(runRound(b, a, maxGroups, split)), expectedDiff(mapB, mapA));
        },
      ),
    );
  });

  it("costs one round trip and an empty diff when nothing differs", () => {
    const entries = KEY_POOL.map((k, i) => [k, keyEntryHash(k, BigInt(i % 3))] as const);
    const a = DigestTree.from(entries);
    const b = DigestTree.from([...entries].reverse());
    const open = openRound(a);
    assert.equal(open.buckets.length, 256);
    const reply = answerDigest(b, open);
    assert.deepEqual(reply, { differing: [], keys: [] });
    assert.deepEqual(nextStep(a, open, reply), {
      kind: "diff",
      diff: { theyLack: [], iLack: [], differ: [] },
    });
  });

  it("replies carry only the keys of differing leaves", () => {
    const a = DigestTree.from(KEY_POOL.map((k) => [k, keyEntryHash(k, 1n)] as const));
    const b = DigestTree.from(KEY_POOL.map((k) => [k, keyEntryHash(k, 1n)] as const));
    const changed = KEY_POOL[0]!;
    b.set(changed, keyEntryHash(changed, 2n));
    const open = openRound(a);
    const r0 = answerDigest(b, open);
    assert.deepEqual(r0.differing, [groupOf(leafOf(changed))]);
    const step = nextStep(a, open, r0);
    assert.equal(step.kind, "requests");
    if (step.kind !== "requests") return;
    assert.equal(step.requests.length, 1);
    const r1 = answerDigest(b, step.requests[0]!);
    assert.deepEqual(r1.differing, [leafOf(changed)]);
    assert.deepEqual(
      r1.keys.map((k) => k.key).sort(),
      KEY_POOL.filter((k) => leafOf(k) === leafOf(changed)).sort(),
    );
    assert.deepEqual(nextStep(a, step.requests[0]!, r1), {
      kind: "diff",
      diff: { theyLack: [], iLack: [], differ: [changed] },
    });
  });

  it("sizes level-1 requests from the payload limit and splits them on demand", () => {
    assert.equal(groupsPerRequest(0, 1 << 20), 256);
    assert.equal(groupsPerRequest(1_000_000, 1 << 20), 2);
    assert.equal(groupsPerRequest(100_000_000, 1 << 20), 1);
    const t = DigestTree.from(KEY_POOL.map((k) => [k, 1n] as const));
    const open = openRound(t);
    const step = nextStep(t, open, { differing: [1, 2, 3], keys: [] }, { maxGroupsPerRequest: 8 });
    assert.ok(step.kind === "requests" && step.requests.length === 1);
    const halves = splitLeafRequest(step.requests[0]!);
    assert.deepEqual(halves.map((h) => new Set(h.buckets.map((b) => groupOf(b.bucket)))), [new Set([1, 2]), new Set([3])]);
    assert.equal(splitLeafRequest(halves[1]!).length, 1, "one group cannot be split");
    assert.deepEqual(splitLeafRequest(open), [open]);
  });

  it("rejects malformed requests and forged replies with InvalidArgumentError", () => {
    const t = DigestTree.from([["x", 1n]]);
    const bad = (req: unknown) => () => answerDigest(t, req as DigestRequest);
    assert.throws(bad({ level: 2, buckets: [] }), InvalidArgumentError);
    assert.throws(bad({ level: 0, buckets: [{ bucket: 256, hash: 0n }] }), InvalidArgumentError);
    assert.throws(bad({ level: 1, buckets: [{ bucket: 65536, hash: 0n }] }), InvalidArgumentError);
    assert.throws(bad({ level: 0, buckets: [{ bucket: 0, hash: -1n }] }), InvalidArgumentError);
    assert.throws(bad({ level: 0, buckets: [{ bucket: 0, hash: 1 }] }), InvalidArgumentError);

    const open = openRound(t);
    assert.throws(() => nextStep(t, open, { differing: [300], keys: [] }), InvalidArgumentError);
    const leaf = leafOf("x");
    const g = groupOf(leaf);
    const req: DigestRequest = { level: 1, buckets: [{ bucket: g * 256, hash: 0n }] };
    const otherGroup = ((g + 1) % 256) * 256;
    assert.throws(() => nextStep(t, req, { differing: [otherGroup], keys: [] }), InvalidArgumentError);
    // A key that does not belong to any differing leaf is forged or confused.
    const stranger = KEY_POOL.find((k) => groupOf(leafOf(k)) !== g)!;
    assert.throws(
      () => nextStep(t, req, { differing: [leaf], keys: [{ key: stranger, hash: 1n }] }),
      InvalidArgumentError,
    );
    assert.throws(() => nextStep(t, open, { differing: [], keys: [] }, { maxGroupsPerRequest: 0 }));
  });
});
