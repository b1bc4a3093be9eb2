/** nkeys as NATS writes them, and the `security` option's checks: each mistake is a ConfigError that says what to do. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createServer, createUser, fromSeed } from "@nats-io/nkeys";
import { ConfigError, createNodeKey, resolveOptions, MemoryNetwork } from "../../src/index.js";
import { decodePublicKey, decodeSeed } from "../../src/security/nkey.js";

const base = { nodeId: "a", transport: new MemoryNetwork().connect("a") };
const rejects = (security: unknown, pattern: RegExp): void =>
  assert.throws(() => resolveOptions({ ...base, security } as never), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));

describe("nkeys", () => {
  test("seeds and public keys made by @nats-io/nkeys decode to the same ed25519 key pair as ours", () => {
    for (const kp of [createServer(), createUser()]) {
      const seed = new TextDecoder().decode(kp.getSeed());
      const security = { nodeKey: seed, trustedKeys: { a: kp.getPublicKey() } };
      assert.ok(resolveOptions({ ...base, security }).security?.signer, "own public key matches the seed");
      assert.equal(decodeSeed(seed, "k").length, 32);
      assert.equal(decodePublicKey(kp.getPublicKey(), "k").length, 32);
    }
    const ours = createNodeKey();
    assert.equal(new TextDecoder().decode(fromSeed(new TextEncoder().encode(ours.seed)).getSeed()), ours.seed);
    assert.equal(fromSeed(new TextEncoder().encode(ours.seed)).getPublicKey(), ours.publicKey);
  });

  test("a changed character, an account key, a seed as public key: refused", () => {
    const k = createNodeKey();
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    assert.throws(() => decodePublicKey(flip(k.publicKey, 10), "k"), ConfigError);
    assert.throws(() => decodeSeed(flip(k.seed, 10), "k"), ConfigError);
    assert.throws(() => decodePublicKey(k.seed, "k"), ConfigError);
    assert.throws(() => decodeSeed(k.publicKey, "k"), ConfigError);
    assert.throws(() => decodePublicKey("A" + k.publicKey.slice(1), "k"), ConfigError);
  });
});

describe("security option", () => {
  const a = createNodeKey();
  const b = createNodeKey();
  test("accepted shapes", () => {
    assert.equal(resolveOptions(base).security, undefined, "off by default");
    assert.ok(resolveOptions({ ...base, security: { clusterKey: "x".repeat(32) } }).security?.mac);
    assert.ok(resolveOptions({ ...base, security: { clusterKey: new Uint8Array(32) } }).security?.mac);
    const both = resolveOptions({ ...base, security: { clusterKey: "x".repeat(40), nodeKey: a.seed, trustedKeys: { a: a.publicKey, b: b.publicKey } } }).security!;
    assert.ok(both.mac && both.signer?.node === "a" && both.trusted?.size === 2);
  });
  test("mistakes", () => {
    rejects({}, /neither clusterKey nor nodeKey/);
    rejects({ clusterKey: undefined }, /neither clusterKey nor nodeKey/);
    rejects({ clusterKey: "short" }, /5 bytes; use at least 32/);
    rejects({ clusterKey: 42 }, /string or a Uint8Array/);
    rejects({ trustedKeys: { a: a.publicKey } }, /nodeKey is not/);
    rejects({ nodeKey: a.seed }, /needs security.trustedKeys/);
    rejects({ nodeKey: a.seed, trustedKeys: { b: b.publicKey } }, new RegExp(`no entry for this node \\("a"\\): add its public nkey \\(${a.publicKey}\\)`));
    rejects({ nodeKey: a.seed, trustedKeys: { a: b.publicKey } }, /is not the public key of security.nodeKey/);
    rejects({ nodeKey: "SNnot-a-seed", trustedKeys: { a: a.publicKey } }, /nodeKey must be an nkey seed/);
    rejects({ nodeKey: a.seed, trustedKeys: { a: a.publicKey, b: "Nbogus" } }, /trustedKeys\["b"\] must be a public nkey/);
    rejects({ nodeKey: a.seed, trustedKeys: { a: a.publicKey, "b.x": b.publicKey } }, /"b.x" is not a node id/);
  });
});
