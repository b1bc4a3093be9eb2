/** SHA-256 with Node's one-shot `crypto.hash` (about 2× faster on small inputs), `createHash` before Node 20.12. */
import * as crypto from "node:crypto";

const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: "buffer") => Buffer }).hash;

/** SHA-256 of `data` (a string is hashed as its UTF-8 bytes). */
export function sha256(data: Uint8Array | string): Buffer {
  return oneShot !== undefined ? oneShot("sha256", data, "buffer") : crypto.createHash("sha256").update(data).digest();
}
