/**
 * The `security` option, checked and turned into node:crypto keys once at start: the cluster key
 * as an HMAC key, this node's nkey seed as an ed25519 private key, the trusted public nkeys as
 * ed25519 public keys by node id. Every problem is a ConfigError that says what to do.
 */
import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { ConfigError } from "../errors.js";
import { decodePublicKey, decodeSeed, encodePublicKey, encodeSeed } from "./nkey.js";

export interface SecurityOptions {
  /**
   * Shared secret of the cluster (≥ 32 bytes; a string is taken as UTF-8). Every message carries an
   * HMAC-SHA256 tag under it; messages without a valid tag are dropped and counted before they are
   * decoded.
   */
  clusterKey?: string | Uint8Array;
  /** This node's signing key: a NATS nkey seed (ed25519, "SN…" or "SU…"). Every message it sends is signed. Needs trustedKeys. */
  nodeKey?: string;
  /**
   * Public nkeys ("N…"/"U…") of every node id this node trusts, this node's own included (node id →
   * public key). With signing on, a message claiming node id X is accepted only with X's signature.
   */
  trustedKeys?: Record<string, string>;
}

/** What frames are sealed and opened with (see frame.ts). */
export interface FrameKeys {
  /** HMAC-SHA256 key: every frame carries a tag under it. */
  readonly mac?: KeyObject;
  /** This node's id and ed25519 key: every frame it sends is signed. */
  readonly signer?: { readonly node: string; readonly key: KeyObject };
  /** With signing on: the ed25519 public key of every node id whose frames are accepted. */
  readonly trusted?: ReadonlyMap<string, KeyObject>;
}

export const MIN_CLUSTER_KEY_BYTES = 32;

/** ed25519 keys from their 32 raw bytes, through the fixed DER prefixes of PKCS#8 and SPKI. */
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

const privateKeyOf = (seed: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
const publicKeyOf = (raw: Uint8Array): KeyObject => createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
const rawPublicKey = (key: KeyObject): Buffer => ((key.type === "public" ? key : createPublicKey(key)).export({ format: "der", type: "spki" }) as Buffer).subarray(SPKI_ED25519.length);

/** Check `security` for node `nodeId` (`isNodeId`: the replicator's rule for ids); undefined when it is not set. */
export function resolveSecurity(o: SecurityOptions | undefined, nodeId: string, isNodeId: (id: string) => boolean = () => true): FrameKeys | undefined {
  if (o === undefined) return undefined;
  if (typeof o !== "object" || o === null) throw new ConfigError("security must be an object: { clusterKey?, nodeKey?, trustedKeys? }");
  const keys: { mac?: KeyObject; signer?: FrameKeys["signer"]; trusted?: Map<string, KeyObject> } = {};
  if (o.clusterKey !== undefined) {
    const bytes = typeof o.clusterKey === "string" ? Buffer.from(o.clusterKey, "utf8") : o.clusterKey instanceof Uint8Array ? Buffer.from(o.clusterKey) : undefined;
    if (bytes === undefined) throw new ConfigError("security.clusterKey must be a string or a Uint8Array");
    if (bytes.length < MIN_CLUSTER_KEY_BYTES) {
      throw new ConfigError(
        `security.clusterKey is ${bytes.length} bytes; use at least ${MIN_CLUSTER_KEY_BYTES} random bytes (e.g. \`openssl rand -base64 32\`), the same on every node`,
      );
    }
    keys.mac = createSecretKey(bytes);
  }
  if (o.trustedKeys !== undefined && o.nodeKey === undefined) {
    throw new ConfigError("security.trustedKeys is set but security.nodeKey is not: give this node its own nkey seed, or drop trustedKeys");
  }
  if (o.nodeKey !== undefined) {
    const seed = decodeSeed(o.nodeKey, "security.nodeKey");
    if (o.trustedKeys === undefined || typeof o.trustedKeys !== "object" || o.trustedKeys === null) {
      throw new ConfigError("security.nodeKey needs security.trustedKeys: the public nkey of every node id this node trusts, its own included");
    }
    const trusted = new Map<string, KeyObject>();
    for (const [node, text] of Object.entries(o.trustedKeys)) {
      if (!isNodeId(node)) throw new ConfigError(`security.trustedKeys: ${JSON.stringify(node)} is not a node id (1-128 letters, digits, '-' or '_')`);
      trusted.set(node, publicKeyOf(decodePublicKey(text, `security.trustedKeys["${node}"]`)));
    }
    const key = privateKeyOf(seed);
    const own = trusted.get(nodeId);
    if (own === undefined) throw new ConfigError(`security.trustedKeys has no entry for this node ("${nodeId}"): add its public nkey (${encodePublicKey(rawPublicKey(key))})`);
    if (!rawPublicKey(own).equals(rawPublicKey(key))) {
      throw new ConfigError(`security.trustedKeys["${nodeId}"] is not the public key of security.nodeKey (that is ${encodePublicKey(rawPublicKey(key))}): fix one of them`);
    }
    keys.signer = { node: nodeId, key };
    keys.trusted = trusted;
  }
  // Fail closed: `security: {}` (say, from an unset environment variable) must not mean "no security".
  if (keys.mac === undefined && keys.signer === undefined) {
    throw new ConfigError("security is set but has neither clusterKey nor nodeKey: give at least one, or leave security out to run unauthenticated");
  }
  return keys;
}

/** A new node signing key: its seed (for `nodeKey`) and public key (for every node's `trustedKeys`). */
export function createNodeKey(): { seed: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const seed = (privateKey.export({ format: "der", type: "pkcs8" }) as Buffer).subarray(PKCS8_ED25519.length);
  return { seed: encodeSeed(seed), publicKey: encodePublicKey(rawPublicKey(publicKey)) };
}
