/**
 * The lock and semaphore protocol as pure decisions on one KV entry: who holds permits, who waits in
 * which order, which leases have expired, and which waiters a write grants. The NATS shell
 * (lease-table.ts) reads the entry, applies one of these functions and writes the result back with
 * a revision check, so two writers never both succeed from the same state.
 *
 * A lock is a semaphore of one permit. Holders and waiters are both *members*: each has a ticket
 * (FIFO order), a lease TTL and a `beat` counter its owner bumps to renew. Nobody compares wall
 * clocks of different machines: an observer notes on its own monotonic clock when it last saw a
 * member's beat change, and judges the lease expired `ttlMs` after that (`sight`, `expiredMembers`).
 * A holder counts its own lease from the moment it *sent* its last successful renewal, which is
 * earlier than any observer's sighting of it, so the holder always gives up first.
 *
 * Fencing tokens: a grant's token is `max(fence, revision) + 1`, where `revision` is the KV revision
 * of the entry being replaced. The write lands at a later revision, so the next grant's token is
 * larger again: tokens strictly increase per key, even across a purge of the key (the bucket's
 * revisions keep counting).
 */
import { parseEntryObject } from "./json-entry.js";

export interface Member {
  /** Who asked (one handle of one process; an HTTP lease has one of its own). */
  readonly owner: string;
  /** FIFO position: smaller tickets are served first. Unique within the entry. */
  readonly ticket: number;
  /** Permits asked for (1 for a lock). */
  readonly permits: number;
  /** Lease length its owner promised to renew within. */
  readonly ttlMs: number;
  /** Renewal counter: observers restart their expiry clock whenever it changes. */
  readonly beat: number;
  /** The fencing token once granted; undefined while waiting. */
  readonly token?: number;
}

export interface LeaseEntry {
  /** Permits of the semaphore (1 for a lock), fixed by whoever created the entry. */
  readonly permits: number;
  readonly nextTicket: number;
  /** The last token granted. */
  readonly fence: number;
  /** Holders and waiters, in ticket order. */
  readonly members: readonly Member[];
}

/** Bounds on untrusted entries (and on what we write). */
export const LIMITS = {
  maxEntryBytes: 256 * 1024,
  maxMembers: 1000,
  maxOwnerLength: 256,
  maxPermits: 1_000_000,
  minTtlMs: 100,
  maxTtlMs: 24 * 3600_000,
} as const;

export function emptyEntry(permits: number): LeaseEntry {
  return { permits, nextTicket: 1, fence: 0, members: [] };
}

export function memberId(m: Pick<Member, "owner" | "ticket">): string {
  return `${m.ticket}:${m.owner}`;
}

const encoder = new TextEncoder();

export function encodeLeaseEntry(entry: LeaseEntry): Uint8Array {
  return encoder.encode(JSON.stringify(entry));
}

const isCount = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;

/** The entry in `bytes`, or undefined when they are not a well-formed entry (count it and overwrite). */
export function decodeLeaseEntry(bytes: Uint8Array): LeaseEntry | undefined {
  const raw = parseEntryObject(bytes, LIMITS.maxEntryBytes);
  if (raw === undefined) return undefined;
  const { permits, nextTicket, fence, members } = raw;
  if (!isCount(permits, LIMITS.maxPermits) || permits < 1 || !isCount(nextTicket) || !isCount(fence)) return undefined;
  if (!Array.isArray(members) || members.length > LIMITS.maxMembers) return undefined;
  const out: Member[] = [];
  const tickets = new Set<number>();
  for (const m of members as unknown[]) {
    const member = decodeMember(m);
    if (member === undefined || member.ticket >= nextTicket || tickets.has(member.ticket)) return undefined;
    if (member.token !== undefined && member.token > fence) return undefined;
    tickets.add(member.ticket);
    out.push(member);
  }
  out.sort((a, b) => a.ticket - b.ticket);
  return { permits, nextTicket, fence, members: out };
}

function decodeMember(m: unknown): Member | undefined {
  if (typeof m !== "object" || m === null) return undefined;
  const { owner, ticket, permits, ttlMs, beat, token } = m as Record<string, unknown>;
  if (typeof owner !== "string" || owner.length === 0 || owner.length > LIMITS.maxOwnerLength) return undefined;
  if (!isCount(ticket) || !isCount(permits, LIMITS.maxPermits) || permits < 1 || !isCount(beat)) return undefined;
  if (!isCount(ttlMs, LIMITS.maxTtlMs) || ttlMs < LIMITS.minTtlMs) return undefined;
  if (token !== undefined && (!isCount(token) || token < 1)) return undefined;
  return { owner, ticket, permits, ttlMs, beat, ...(token === undefined ? {} : { token }) };
}

/** When this observer last saw each member's beat change (its own monotonic ms). */
export type Sightings = ReadonlyMap<string, { readonly beat: number; readonly atMs: number }>;

/** Sightings after seeing `entry` at `nowMs`: a new member or a changed beat restarts its clock. */
export function sight(previous: Sightings, entry: LeaseEntry, nowMs: number): Sightings {
  const next = new Map<string, { beat: number; atMs: number }>();
  for (const m of entry.members) {
    const id = memberId(m);
    const seen = previous.get(id);
    next.set(id, seen !== undefined && seen.beat === m.beat ? seen : { beat: m.beat, atMs: nowMs });
  }
  return next;
}

/** Members whose beat this observer has not seen change for longer than their TTL. */
export function expiredMembers(entry: LeaseEntry, sightings: Sightings, nowMs: number): Member[] {
  return entry.members.filter((m) => {
    const seen = sightings.get(memberId(m));
    return seen !== undefined && seen.beat === m.beat && nowMs - seen.atMs > m.ttlMs;
  });
}

/** The earliest moment (observer ms) a member of `entry` may expire, or undefined with no members. */
export function nextExpiry(entry: LeaseEntry, sightings: Sightings): number | undefined {
  let soonest: number | undefined;
  for (const m of entry.members) {
    const seen = sightings.get(memberId(m));
    if (seen === undefined) continue;
    const at = seen.atMs + m.ttlMs;
    soonest = soonest === undefined ? at : Math.min(soonest, at);
  }
  return soonest;
}

export function permitsHeld(entry: LeaseEntry): number {
  return entry.members.reduce((n, m) => n + (m.token === undefined ? 0 : m.permits), 0);
}

/**
 * Grant waiters in ticket order while permits are free. Strict FIFO: a waiter asking for more
 * permits than are free blocks the ones behind it (no starvation of large requests).
 * `revision` is the KV revision of the entry this write replaces (0 when creating it).
 */
export function settle(entry: LeaseEntry, revision: number): LeaseEntry {
  let free = entry.permits - permitsHeld(entry);
  let fence = entry.fence;
  let blocked = false;
  const members = entry.members.map((m) => {
    if (m.token !== undefined || blocked) return m;
    if (m.permits > free) {
      blocked = true;
      return m;
    }
    free -= m.permits;
    fence = Math.max(fence, revision) + 1;
    return { ...m, token: fence };
  });
  return { ...entry, fence, members };
}

/** Join the queue: the new member and its ticket (settle grants it when permits are free). */
export function join(entry: LeaseEntry, owner: string, permits: number, ttlMs: number): { entry: LeaseEntry; ticket: number } {
  const ticket = entry.nextTicket;
  const member: Member = { owner, ticket, permits, ttlMs, beat: 0 };
  return { entry: { ...entry, nextTicket: ticket + 1, members: [...entry.members, member] }, ticket };
}

/** Remove the listed members (released, given up, or expired). */
export function without(entry: LeaseEntry, ids: ReadonlySet<string>): LeaseEntry {
  return { ...entry, members: entry.members.filter((m) => !ids.has(memberId(m))) };
}

/** Bump the beats of the listed members (a renewal). */
export function renewed(entry: LeaseEntry, ids: ReadonlySet<string>): LeaseEntry {
  return { ...entry, members: entry.members.map((m) => (ids.has(memberId(m)) ? { ...m, beat: m.beat + 1 } : m)) };
}

/** The member holding `token`, if that grant is still in the entry. */
export function holderOf(entry: LeaseEntry, token: number): Member | undefined {
  return entry.members.find((m) => m.token === token);
}

export function memberOf(entry: LeaseEntry, owner: string, ticket: number): Member | undefined {
  return entry.members.find((m) => m.ticket === ticket && m.owner === owner);
}

/**
 * The whole of one write: the caller's change, then every member this observer judges expired
 * removed, then waiters granted. `undefined` from `change` means "nothing to do" unless expired
 * members need removing (an eviction is worth a write on its own).
 */
export function transition(
  entry: LeaseEntry,
  revision: number,
  change: (entry: LeaseEntry) => LeaseEntry | undefined,
  expired: readonly Member[],
): LeaseEntry | undefined {
  const changed = change(entry);
  if (changed === undefined && expired.length === 0) return undefined;
  const base = changed ?? entry;
  return settle(expired.length === 0 ? base : without(base, new Set(expired.map(memberId))), revision);
}
