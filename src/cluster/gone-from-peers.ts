/**
 * Whether this node drops a member its peers no longer hold (pure). A node cut off while a member
 * left for good (its leave heartbeat missed) or was removed by the others' vote (their `removed`
 * votes expired before it came back) would otherwise keep that member for ever: the usual removal
 * waits for a majority listing it `silent`, and the others, no longer holding it, never list it.
 *
 * A peer holds a member when its heartbeats vouch for it (heard and counted) or list it `silent`.
 * A member a peer still counts in its agreed membership goes from one to the other: it stops being
 * vouched for failureTimeoutMs after the peer last heard it and is listed silent removalTimeoutMs
 * after, so a peer seen not holding it for longer than removalTimeoutMs + failureTimeoutMs (a lost
 * heartbeat at each end, as the peer stayed reachable) no longer has it: it left, or a majority there
 * voted it out. This node follows once it has not heard the member itself for removalTimeoutMs, no
 * peer vouched for it for as long (one alive behind a slow or one-sided link stays), and a majority
 * of its agreed membership — itself and such peers — no longer holds it.
 */
import { quorum } from "./quorum.js";

export interface GoneFromPeersInput {
  readonly nowMs: number;
  readonly failureTimeoutMs: number;
  readonly removalTimeoutMs: number;
  /** When this node last heard the subject itself. */
  readonly heardAtMs: number;
  /** When a peer last vouched for the subject (received on this node's clock). */
  readonly vouchedAtMs: number;
  /** Size of this node's agreed membership, itself and the subject included. */
  readonly agreed: number;
  /**
   * For each reachable member of the agreed membership other than this node and the subject: since
   * when its heartbeats have not held the subject (its last one that did, or when it became reachable).
   */
  readonly peersNotHoldingSinceMs: readonly number[];
}

export function goneFromPeers(i: GoneFromPeersInput): boolean {
  if (i.nowMs - i.heardAtMs < i.removalTimeoutMs || i.nowMs - i.vouchedAtMs < i.removalTimeoutMs) return false;
  let yes = 1; // this node: silent on it for removalTimeoutMs
  for (const since of i.peersNotHoldingSinceMs) if (i.nowMs - since > i.removalTimeoutMs + i.failureTimeoutMs) yes++;
  return yes >= quorum("majority", i.agreed);
}
