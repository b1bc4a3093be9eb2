/** The authenticated frame: seal/open round trips; any change, a wrong key, a replay or a stale stamp is refused, never thrown. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { createNodeKey } from "../../src/index.js";
import { FRAME_OVERHEAD, open, replyContext, seal, subjectContext, type FrameRejection, type OpenedFrame } from "../../src/security/frame.js";
import { resolveSecurity, type FrameKeys } from "../../src/security/keys.js";
import { ReplayGuard } from "../../src/security/replay.js";

const KEY = "k".repeat(32);
const macOnly = resolveSecurity({ clusterKey: KEY }, "a")!;
const a = createNodeKey();
const b = createNodeKey();
const trustedKeys = { a: a.publicKey, b: b.publicKey };
const signedA = resolveSecurity({ nodeKey: a.seed, trustedKeys }, "a")!;
const signedB = resolveSecurity({ nodeKey: b.seed, trustedKeys }, "b")!;
const both = resolveSecurity({ clusterKey: KEY, nodeKey: a.seed, trustedKeys }, "a")!;
const payload = new TextEncoder().encode("an envelope's bytes");
const NOW = 1_750_000_000_000;
const nonce = (): Uint8Array => randomBytes(16);

function opened(r: OpenedFrame | FrameRejection): OpenedFrame {
  assert.equal(typeof r, "object", `refused: ${String(r)}`);
  return r as OpenedFrame;
}

describe("frame", () => {
  for (const [name, keys] of [["cluster key", macOnly], ["signature", signedA], ["both", both]] as [string, FrameKeys][]) {
    test(`${name}: round trip; every single changed byte is refused`, () => {
      const frame = seal(keys, subjectContext("crdt.deltas"), payload, NOW, nonce());
      assert.ok(frame.length - payload.length <= FRAME_OVERHEAD);
      const got = opened(open(keys, subjectContext("crdt.deltas"), frame));
      assert.deepEqual([...got.payload], [...payload]);
      assert.equal(got.sentAtMs, NOW);
      assert.equal(got.signer, keys.signer?.node);
      for (let i = 0; i < frame.length; i++) {
        const bad = frame.slice();
        bad[i]! ^= 0x01;
        assert.equal(typeof open(keys, subjectContext("crdt.deltas"), bad), "string", `byte ${i} changed and still accepted`);
      }
    });

    test(`${name}: another subject, truncation, padding and garbage are refused`, () => {
      const frame = seal(keys, subjectContext("crdt.deltas"), payload, NOW, nonce());
      assert.equal(typeof open(keys, subjectContext("crdt.deltas.members"), frame), "string");
      for (let n = 0; n < frame.length; n++) assert.equal(typeof open(keys, subjectContext("crdt.deltas"), frame.subarray(0, n)), "string");
      assert.equal(typeof open(keys, subjectContext("crdt.deltas"), Uint8Array.from([...frame, 0])), "string");
      for (let i = 0; i < 200; i++) assert.equal(typeof open(keys, subjectContext("crdt.deltas"), randomBytes(i)), "string");
      assert.equal(open(keys, subjectContext("crdt.deltas"), payload), "unauthenticated", "an unframed (unsecured node's) message");
    });
  }

  test("a wrong cluster key is unauthenticated", () => {
    const other = resolveSecurity({ clusterKey: "x".repeat(32) }, "a")!;
    assert.equal(open(macOnly, "s", seal(other, "s", payload, NOW, nonce())), "unauthenticated");
    assert.equal(open(macOnly, "s", seal(signedA, "s", payload, NOW, nonce())), "unauthenticated", "signed but no tag");
  });

  test("signatures: an untrusted signer, a signature by another key, no signature", () => {
    const stranger = createNodeKey();
    const strangerKeys = resolveSecurity({ nodeKey: stranger.seed, trustedKeys: { c: stranger.publicKey } }, "c")!;
    assert.equal(open(signedB, "s", seal(strangerKeys, "s", payload, NOW, nonce())), "untrusted-signer");
    // b's valid key, claiming to be a: the signature does not verify under a's public key.
    const forged = { ...signedB, signer: { node: "a", key: signedB.signer!.key } };
    assert.equal(open(signedA, "s", seal(forged, "s", payload, NOW, nonce())), "bad-signature");
    assert.equal(open(signedA, "s", seal(macOnly, "s", payload, NOW, nonce())), "bad-signature");
    assert.equal(opened(open(signedA, "s", seal(signedB, "s", payload, NOW, nonce()))).signer, "b");
  });

  test("a reply is bound to its request's nonce", () => {
    const n1 = nonce();
    const reply = seal(macOnly, replyContext(n1), payload, NOW, nonce());
    opened(open(macOnly, replyContext(n1), reply));
    assert.equal(open(macOnly, replyContext(nonce()), reply), "unauthenticated");
  });
});

describe("replay guard", () => {
  test("once within the window; stale and future stamps expire; forgets after the window, bounded", () => {
    let now = NOW;
    const guard = new ReplayGuard(60_000, () => now);
    const n = nonce();
    assert.equal(guard.admit("a", n, now), undefined);
    assert.equal(guard.admit("a", n, now), "replayed");
    assert.equal(guard.admit("b", n, now), undefined, "another signer's nonce space");
    assert.equal(guard.admit("a", nonce(), now - 60_001), "expired");
    assert.equal(guard.admit("a", nonce(), now + 60_001), "expired");
    // Still remembered while its stamp is in the window, as late as it can be accepted.
    now += 59_999;
    assert.equal(guard.admit("a", n, NOW), "replayed");
    now += 2;
    assert.equal(guard.admit("a", n, NOW), "expired");
    // Long afterwards nothing of it is kept.
    now += 4 * 60_000;
    guard.admit("a", nonce(), now);
    assert.equal(guard.size, 1);
  });
});
