/**
 * NATS nkeys (ed25519) as text: "SN…"/"SU…" seeds and "N…"/"U…" public keys, the format `nsc` and
 * `nk` print. An nkey is base32 (RFC 4648, no padding) of a prefix, the 32 raw key bytes and a
 * CRC-16 (XMODEM, little-endian) of both. Decoding is all the replicator needs from the format; the
 * ed25519 arithmetic is node:crypto's (see keys.ts).
 */
import { ConfigError } from "../errors.js";

/** Which nkeys may name a node: server ("N") and user ("U") keys. */
const KINDS = { N: 13 << 3, U: 20 << 3 } as const;
type Kind = keyof typeof KINDS;
const SEED = 18 << 3;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32Decode(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) return undefined;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** The prefix bytes, key and checksum, or undefined when the text is no nkey at all. */
function unpack(text: string, prefixLength: number): { prefix: Uint8Array; key: Uint8Array } | undefined {
  const raw = base32Decode(text);
  if (raw === undefined || raw.length !== prefixLength + 32 + 2) return undefined;
  const body = raw.subarray(0, raw.length - 2);
  if (crc16(body) !== (raw[raw.length - 2]! | (raw[raw.length - 1]! << 8))) return undefined;
  return { prefix: body.subarray(0, prefixLength), key: body.slice(prefixLength) };
}

function pack(prefix: number[], key: Uint8Array): string {
  const body = Uint8Array.from([...prefix, ...key]);
  const crc = crc16(body);
  return base32Encode(Uint8Array.from([...body, crc & 0xff, crc >> 8]));
}

/** The 32-byte ed25519 seed of an "SN…"/"SU…" nkey seed; ConfigError naming `what` otherwise. */
export function decodeSeed(text: string, what: string): Uint8Array {
  const parts = typeof text === "string" ? unpack(text, 2) : undefined;
  const kind = parts === undefined ? undefined : kindOf(((parts.prefix[0]! & 7) << 5) | (parts.prefix[1]! >> 3));
  if (parts === undefined || (parts.prefix[0]! & 0xf8) !== SEED || kind === undefined) {
    throw new ConfigError(`${what} must be an nkey seed ("SN…" or "SU…", as \`nk -gen server\` prints it); got something else`);
  }
  return parts.key;
}

/** The 32-byte ed25519 public key of an "N…"/"U…" public nkey; ConfigError naming `what` otherwise. */
export function decodePublicKey(text: string, what: string): Uint8Array {
  const parts = typeof text === "string" ? unpack(text, 1) : undefined;
  if (parts === undefined || kindOf(parts.prefix[0]!) === undefined) {
    throw new ConfigError(`${what} must be a public nkey ("N…" or "U…", 56 characters); got ${JSON.stringify(String(text).slice(0, 60))}`);
  }
  return parts.key;
}

/** The text of a public nkey of `kind` ("N": server/node, "U": user). */
export function encodePublicKey(key: Uint8Array, kind: Kind = "N"): string {
  return pack([KINDS[kind]], key);
}

/** The text of an nkey seed of `kind`. */
export function encodeSeed(seed: Uint8Array, kind: Kind = "N"): string {
  const p = KINDS[kind];
  return pack([SEED | (p >> 5), (p & 31) << 3], seed);
}

function kindOf(prefix: number): Kind | undefined {
  return prefix === KINDS.N ? "N" : prefix === KINDS.U ? "U" : undefined;
}
