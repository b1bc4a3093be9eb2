/** Argument checks and error-message helpers shared by the data types. */
import { InvalidArgumentError } from "../errors.js";

/** A writing node's id: a non-empty, well-formed string. Throws InvalidArgumentError. */
export function checkNode(node: unknown): asserts node is string {
  if (typeof node !== "string" || node.length === 0 || !node.isWellFormed()) {
    throw new InvalidArgumentError(`node id must be a non-empty string, got ${describe(node)}`);
  }
}

/** A short description of an arbitrary value, for error messages. */
export function describe(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x.length > 80 ? x.slice(0, 80) + "…" : x);
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "number" || typeof x === "boolean" || x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return "array";
  return typeof x;
}

/** A non-negative safe integer amount (an increment, a decrement). Throws InvalidArgumentError. */
export function checkAmount(by: unknown, what: string, hint: string): asserts by is number {
  if (typeof by !== "number" || !Number.isSafeInteger(by) || by < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative safe integer; ${hint} (got ${describe(by)})`);
  }
}
