/**
 * Whether this node drops a member its peers no longer hold (pure). A node cut off while a member
 * left for good (its leave heartbeat missed) or was removed by the others' vote (their `removed`
 * votes expired before it came back) would otherwise keep that member for ever: the usual removal
 * waits for a majority listing it `silent`, and the others, no longer holding it, never list it.
 * So a member also goes once this node has not heard it for removalTimeoutMs, no peer has vouched
 * for it (heard and counted it) for as long, and a majority of the agreed membership — this node and
 * reachable peers on its side (they count it or vouch for it) — does not vouch for it now.
 * A member alive behind a slow or one-sided link is vouched for by whoever hears it, so it stays.
 */
import { quorum } from "./quorum.js";

export interface PeerOpinion {
  /** On this node's side: this node counts its acknowledgements, or it vouches for this node. */
  readonly onOurSide: boolean;
  /** It vouches for the subject in its latest heartbeat. */
  readonly vouchesForSubject: boolean;
}

export interface GoneFromPeersInput {
  readonly nowMs: number;
  readonly removalTimeoutMs: number;
  /** When this node last heard the subject itself. */
  readonly heardAtMs: number;
  /** When a peer last vouched for the subject (received on this node's clock). */
  readonly vouchedAtMs: number;
  /** Size of this node's agreed membership, itself and the subject included. */
  readonly agreed: number;
  /** Reachable members of the agreed membership other than this node and the subject. */
  readonly peers: readonly PeerOpinion[];
}

export function goneFromPeers(i: GoneFromPeersInput): boolean {
  if (i.nowMs - i.heardAtMs < i.removalTimeoutMs || i.nowMs - i.vouchedAtMs < i.removalTimeoutMs) return false;
  let yes = 1; // this node: silent on it for removalTimeoutMs
  for (const p of i.peers) if (p.onOurSide && !p.vouchesForSubject) yes++;
  return yes >= quorum("majority", i.agreed);
}
