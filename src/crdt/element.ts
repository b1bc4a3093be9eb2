/**
 * Canonical encoding of elements, map keys and register values.
 *
 * Every node must compute the same identity for the same value, so sets and maps key their
 * entries by this string, hashes cover it, and the wire carries it. Grammar:
 *
 *   value := "n" | "t" | "f"                 null, true, false
 *          | "d" <number> ";"                 finite number, JS shortest round-trip form
 *          | "i" <decimal> ";"                bigint
 *          | "s" <length> ":" <chars>         string (length in UTF-16 code units)
 *          | "b" <base64> ";"                 Uint8Array
 *          | "[" value* "]"                   array
 *          | "{" (string value)* "}"          plain object, keys sorted by code unit
 *
 * Length-prefixed strings need no escaping, so the common case (a string element) costs one
 * concatenation. Objects are rebuilt with `Object.fromEntries`, which defines "__proto__" as an
 * own data property instead of changing the prototype.
 */
import { DecodeError, InvalidArgumentError } from "../errors.js";
import type { Element } from "./types.js";

const MAX_DEPTH = 64;

const ALLOWED =
  "allowed: string, finite number, boolean, bigint, null, Uint8Array, and plain objects/arrays of those";

export function canonical(value: Element): string {
  if (typeof value === "string") return encodeString(value);
  return encode(value, 0);
}

function encodeString(s: string): string {
  if (!s.isWellFormed()) {
    throw new InvalidArgumentError(`string contains a lone surrogate and cannot be replicated; ${ALLOWED}`);
  }
  return "s" + s.length + ":" + s;
}

function encode(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(`value nests deeper than ${MAX_DEPTH} levels`);
  switch (typeof value) {
    case "string":
      return encodeString(value);
    case "boolean":
      return value ? "t" : "f";
    case "number":
      if (!Number.isFinite(value)) throw new InvalidArgumentError(`${value} is not a finite number; ${ALLOWED}`);
      return "d" + (Object.is(value, -0) ? "0" : String(value)) + ";";
    case "bigint":
      return "i" + value.toString() + ";";
    case "object": {
      if (value === null) return "n";
      if (value instanceof Uint8Array) return "b" + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") + ";";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw new InvalidArgumentError(`sparse arrays are not supported; ${ALLOWED}`);
          out += encode(value[i], depth + 1);
        }
        return out + "]";
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const name = (proto?.constructor?.name as string | undefined) ?? "object";
        throw new InvalidArgumentError(`${name} is not a plain object; ${ALLOWED}`);
      }
      const keys = Object.keys(value).sort();
      let out = "{";
      for (const k of keys) out += encodeString(k) + encode((value as Record<string, unknown>)[k], depth + 1);
      return out + "}";
    }
    default:
      throw new InvalidArgumentError(`${typeof value} is not supported; ${ALLOWED}`);
  }
}

/** Inverse of `canonical`. Throws DecodeError on anything `canonical` would not produce. */
export function decodeCanonical(text: string): Element {
  const parser = new Parser(text);
  const value = parser.value(0);
  if (parser.pos !== text.length) throw parser.fail("trailing characters");
  return value;
}

/** True when `text` is a valid canonical encoding (used to validate what arrives on the wire). */
export function isCanonical(text: string): boolean {
  try {
    return canonical(decodeCanonical(text)) === text;
  } catch {
    return false;
  }
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(why: string): DecodeError {
    return new DecodeError(`invalid canonical value at offset ${this.pos}: ${why}`);
  }

  value(depth: number): Element {
    if (depth > MAX_DEPTH) throw this.fail(`nested deeper than ${MAX_DEPTH}`);
    const tag = this.text[this.pos++];
    switch (tag) {
      case "n":
        return null;
      case "t":
        return true;
      case "f":
        return false;
      case "d": {
        const n = Number(this.until(";"));
        if (!Number.isFinite(n)) throw this.fail("bad number");
        return n;
      }
      case "i": {
        const digits = this.until(";");
        if (!/^-?\d+$/.test(digits)) throw this.fail("bad bigint");
        return BigInt(digits);
      }
      case "s":
        return this.string();
      case "b": {
        const b64 = this.until(";");
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw this.fail("bad base64");
        return new Uint8Array(Buffer.from(b64, "base64"));
      }
      case "[": {
        const items: Element[] = [];
        while (this.peek() !== "]") items.push(this.value(depth + 1));
        this.pos++;
        return items;
      }
      case "{": {
        const entries: [string, Element][] = [];
        while (this.peek() !== "}") {
          if (this.text[this.pos++] !== "s") throw this.fail("object key must be a string");
          entries.push([this.string(), this.value(depth + 1)]);
        }
        this.pos++;
        return Object.fromEntries(entries);
      }
      default:
        throw this.fail(tag === undefined ? "truncated" : `unknown tag ${JSON.stringify(tag)}`);
    }
  }

  private peek(): string {
    const c = this.text[this.pos];
    if (c === undefined) throw this.fail("truncated");
    return c;
  }

  private until(terminator: string): string {
    const end = this.text.indexOf(terminator, this.pos);
    if (end < 0) throw this.fail("truncated");
    const out = this.text.slice(this.pos, end);
    this.pos = end + 1;
    return out;
  }

  private string(): string {
    const lengthText = this.until(":");
    if (!/^\d+$/.test(lengthText)) throw this.fail("bad string length");
    const end = this.pos + Number(lengthText);
    if (end > this.text.length) throw this.fail("truncated string");
    const s = this.text.slice(this.pos, end);
    this.pos = end;
    return s;
  }
}

/** Compare canonical encodings: the one total order every node sorts elements by. */
export function compareCanonical(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
