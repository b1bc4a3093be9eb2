/**
 * The authenticated frame every message travels in when `security` is set (pure functions; the
 * transport decorator in transport.ts applies them to every publish, request and reply).
 *
 * ```
 * [0]          version (1)
 * [1]          flags: 1 = HMAC tag, 2 = ed25519 signature
 * [2..8)       send time, ms since the epoch, 48-bit big-endian
 * [8..24)      nonce, 16 random bytes
 * [24]         n: length of the signer's node id (0 without signing)
 * [25..25+n)   signer's node id (ASCII)
 * ...          payload
 * [-96/-64/-32..] tag (32 bytes) then signature (64 bytes), as the flags say
 * ```
 *
 * Both proofs cover one SHA-256 digest of the context and everything before them. The context
 * binds a frame to where it was sent: its subject, or for a reply the nonce of the request it
 * answers, so neither a frame moved to another subject nor an old reply can pass for a new one.
 * The digest is hashed once whatever the payload's size; the tag and the signature are then
 * fixed-size operations on 32 bytes.
 */
import { createHash, createHmac, sign, timingSafeEqual, verify } from "node:crypto";
import type { FrameKeys } from "./keys.js";

const VERSION = 1;
const TAG = 1;
const SIGNATURE = 2;
const HEADER = 25;
const TAG_BYTES = 32;
const SIGNATURE_BYTES = 64;
const MAX_SIGNER = 128;
/** The most a frame adds to its payload (a 128-byte node id, a tag and a signature, rounded up). */
export const FRAME_OVERHEAD = 256;

/** Why a frame was refused (counted by the replicator as a reject reason). */
export type FrameRejection = "unauthenticated" | "bad-signature" | "untrusted-signer" | "expired" | "replayed";

export interface OpenedFrame {
  payload: Uint8Array;
  /** The verified signer's node id (only with signing on). */
  signer: string | undefined;
  sentAtMs: number;
  nonce: Uint8Array;
}

/** The context of a frame sent on `subject`. */
export const subjectContext = (subject: string): string => subject;
/** The context of a reply to the request whose frame carried `nonce` (a space never occurs in a subject). */
export const replyContext = (nonce: Uint8Array): string => `reply ${Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString("hex")}`;

function digest(context: string, body: Uint8Array): Buffer {
  return createHash("sha256").update(context).update("\0").update(body).digest();
}

/** `payload` in a frame for `context`, stamped `nowMs`, with the given 16-byte nonce. */
export function seal(keys: FrameKeys, context: string, payload: Uint8Array, nowMs: number, nonce: Uint8Array): Uint8Array {
  const signer = keys.signer === undefined ? undefined : Buffer.from(keys.signer.node, "latin1");
  const n = signer?.length ?? 0;
  const trailer = (keys.mac !== undefined ? TAG_BYTES : 0) + (signer !== undefined ? SIGNATURE_BYTES : 0);
  const frame = Buffer.allocUnsafe(HEADER + n + payload.length + trailer);
  frame[0] = VERSION;
  frame[1] = (keys.mac !== undefined ? TAG : 0) | (signer !== undefined ? SIGNATURE : 0);
  frame.writeUIntBE(Math.max(0, Math.min(nowMs, 2 ** 48 - 1)), 2, 6);
  frame.set(nonce.subarray(0, 16), 8);
  frame[24] = n;
  if (signer !== undefined) frame.set(signer, HEADER);
  frame.set(payload, HEADER + n);
  const end = HEADER + n + payload.length;
  const d = digest(context, frame.subarray(0, end));
  let at = end;
  if (keys.mac !== undefined) {
    frame.set(createHmac("sha256", keys.mac).update(d).digest(), at);
    at += TAG_BYTES;
  }
  if (keys.signer !== undefined) frame.set(sign(null, d, keys.signer.key), at);
  return frame;
}

/**
 * Check a frame's structure, tag and signature against `keys` (what this node requires: a tag when
 * it has a cluster key, a trusted signature when it has trusted keys). Time and replay are the
 * caller's (replay.ts): they need state. Never throws.
 */
export function open(keys: FrameKeys, context: string, bytes: Uint8Array): OpenedFrame | FrameRejection {
  if (bytes.length < HEADER || bytes[0] !== VERSION) return "unauthenticated";
  const flags = bytes[1]!;
  const n = bytes[24]!;
  const hasTag = (flags & TAG) !== 0;
  const hasSignature = (flags & SIGNATURE) !== 0;
  const trailer = (hasTag ? TAG_BYTES : 0) + (hasSignature ? SIGNATURE_BYTES : 0);
  if ((flags & ~(TAG | SIGNATURE)) !== 0 || n > MAX_SIGNER || bytes.length < HEADER + n + trailer) return "unauthenticated";
  if (keys.mac !== undefined && !hasTag) return "unauthenticated";
  if (keys.trusted !== undefined && (!hasSignature || n === 0)) return "bad-signature";
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - trailer;
  const d = digest(context, view.subarray(0, end));
  let at = end;
  if (hasTag) {
    if (keys.mac !== undefined && !timingSafeEqual(createHmac("sha256", keys.mac).update(d).digest(), view.subarray(at, at + TAG_BYTES))) return "unauthenticated";
    at += TAG_BYTES;
  }
  let signer: string | undefined;
  if (keys.trusted !== undefined) {
    signer = view.toString("latin1", HEADER, HEADER + n);
    const key = keys.trusted.get(signer);
    if (key === undefined) return "untrusted-signer";
    if (!verify(null, d, key, view.subarray(at, at + SIGNATURE_BYTES))) return "bad-signature";
  }
  return { payload: bytes.subarray(HEADER + n, end), signer, sentAtMs: view.readUIntBE(2, 6), nonce: bytes.subarray(8, 24) };
}
