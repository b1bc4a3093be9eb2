/**
 * How queue items and topic messages become bytes. The default is JSON (UTF-8): readable by any
 * NATS client, and enough for plain objects, strings, numbers, booleans, null and arrays (not
 * bigint, Uint8Array, Map, Date — pass your own `{ encode, decode }` for those).
 */
import { InvalidArgumentError } from "../errors.js";

export interface Codec<T> {
  encode(value: T): Uint8Array;
  /** Bytes come from the network: throw on anything that is not a valid value. */
  decode(bytes: Uint8Array): T;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** JSON in UTF-8; `undefined` and values JSON cannot represent (bigint, cycles) are refused. */
export const jsonCodec: Codec<unknown> = {
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new InvalidArgumentError(`${typeof value} has no JSON encoding: send a JSON value or give a codec`);
    return utf8.encode(text);
  },
  decode(bytes) {
    return JSON.parse(fromUtf8.decode(bytes)) as unknown;
  },
};

/** Check a codec given in options (a missing one is JSON). */
export function codecOf<T>(codec: Codec<T> | undefined, what: string): Codec<T> {
  if (codec === undefined) return jsonCodec as Codec<T>;
  if (typeof codec !== "object" || codec === null || typeof codec.encode !== "function" || typeof codec.decode !== "function") {
    throw new InvalidArgumentError(`${what}: codec must be an object with encode(value) → Uint8Array and decode(bytes) → value`);
  }
  return codec;
}

/**
 * Encode `value` for sending, at most `maxBytes` long: InvalidArgumentError (with the codec's own
 * error as cause) when the codec refuses it or it is too large.
 */
export function encodeChecked<T>(codec: Codec<T>, value: T, maxBytes: number, what: string): Uint8Array {
  let bytes: unknown;
  try {
    bytes = codec.encode(value);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError(`${what}: the codec could not encode the value: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`${what}: the codec's encode must return a Uint8Array`);
  if (bytes.length > maxBytes) {
    throw new InvalidArgumentError(`${what}: the encoded value is ${bytes.length} bytes, more than the ${maxBytes} allowed: send smaller values (or store them elsewhere and send a reference)`);
  }
  return bytes;
}

/** Decode bytes from the network: the value, or undefined when they are too large or the codec refuses them. */
export function decodeChecked<T>(codec: Codec<T>, bytes: Uint8Array, maxBytes: number): { value: T } | undefined {
  if (bytes.length > maxBytes) return undefined;
  try {
    return { value: codec.decode(bytes) };
  } catch {
    return undefined;
  }
}
