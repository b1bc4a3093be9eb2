/**
 * How many acknowledgements (self included) a consistency level needs, given N: the members counted
 * in quorum membership (reachable or not, self included; see MembershipTable.known). N never shrinks
 * by one node's decision: a silent member leaves N only when a majority of N votes it out, so a
 * minority side of a partition keeps its N and cannot make itself a "majority".
 */
import { InvalidArgumentError } from "../errors.js";

export type ConsistencyLevel = "local" | "majority" | "all" | { readonly count: number };

export function quorum(level: ConsistencyLevel, knownMembers: number): number {
  if (!Number.isInteger(knownMembers) || knownMembers < 1) {
    throw new InvalidArgumentError(
      `knownMembers must be an integer >= 1 (self is always known), got ${String(knownMembers)}`,
    );
  }
  if (level === "local") return 1;
  if (level === "majority") return Math.floor(knownMembers / 2) + 1;
  if (level === "all") return knownMembers;
  if (typeof level === "object" && level !== null && "count" in level) {
    const { count } = level;
    if (!Number.isInteger(count) || count < 1) {
      throw new InvalidArgumentError(`{ count } must be an integer >= 1, got ${String(count)}`);
    }
    // More than exist is not an error here: members may still join; otherwise the caller times out.
    return count;
  }
  throw new InvalidArgumentError(
    `consistency must be "local", "majority", "all" or { count: n }, got ${safeString(level)}`,
  );
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
