/**
 * How many acknowledgements (self included) a consistency level needs, given N: every member this
 * node knows of (reachable or not, admitted or not, self included; see MembershipTable.known). Only
 * admitted members acknowledge, and an admitted member leaves N only when a majority of the agreed
 * membership votes it out, so a minority side of a partition keeps its N and cannot make itself a
 * "majority"; a starting node counts its peers' agreed membership from its first moment.
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
