/**
 * Pages of `GET /v1/keys` (pure): keys in code-unit order, each page the `limit` keys after the
 * previous page's last key. The cursor names that key (opaque to clients: base64url JSON with the
 * prefix it was given for), so a key that exists from the first page to the last is on exactly one
 * page whatever is written or deleted meanwhile.
 */
import { InvalidArgumentError } from "crdt-replicator";

export interface Page {
  keys: string[];
  nextCursor: string | null;
}

/** The page of `sorted` (ascending, all starting with `prefix`) after `cursor`. */
export function keysPage(sorted: readonly string[], prefix: string, limit: number, cursor: string | undefined): Page {
  const after = cursor === undefined ? undefined : cursorKey(cursor, prefix);
  let lo = 0;
  if (after !== undefined) {
    let hi = sorted.length; // first index whose key is > after
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
  }
  const keys = sorted.slice(lo, lo + limit);
  const more = lo + limit < sorted.length;
  return { keys, nextCursor: more ? encodeCursor(keys[keys.length - 1]!, prefix) : null };
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodeCursor(after: string, prefix: string): string {
  return Buffer.from(JSON.stringify({ after, prefix })).toString("base64url");
}

function cursorKey(cursor: string, prefix: string): string {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    c = undefined;
  }
  const { after, prefix: given } = (typeof c === "object" && c !== null ? c : {}) as { after?: unknown; prefix?: unknown };
  if (typeof after !== "string" || typeof given !== "string") throw new InvalidArgumentError("cursor is not one this API gave: pass the nextCursor of the previous page as it is");
  if (given !== prefix) throw new InvalidArgumentError(`cursor was given for prefix ${JSON.stringify(given)}, not ${JSON.stringify(prefix)}: keep the prefix while paging`);
  return after;
}
