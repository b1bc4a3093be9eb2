/** Checks shared by the options of the core and of each extension: one message style for all. */
import { ConfigError } from "../errors.js";

/** Ids that become part of NATS subjects: node ids, data center names, roles. */
export const NAME = /^[A-Za-z0-9_-]{1,128}$/;

export function flag(name: string, v: boolean | undefined, fallback: boolean): boolean {
  const x = v ?? fallback;
  if (typeof x !== "boolean") throw new ConfigError(`${name} must be true or false; got ${JSON.stringify(v)}`);
  return x;
}

export function positive(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || x < 1) throw new ConfigError(`${name} must be a positive integer; got ${String(v)}`);
  return x;
}
