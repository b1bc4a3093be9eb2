/**
 * Where an envelope stands in its origin's numbered stream (pure): the next one, a duplicate, one
 * after a hole (repair the hole), one filling a hole, or a jump too far ahead to be believed.
 *
 * Why jumps are bounded: an envelope that moved `last` far ahead would make every real envelope
 * after it look like a duplicate until the origin's next heartbeat, so one forged envelope with a
 * real incarnation and a sequence far ahead delayed that node's writes. An envelope may move `last`
 * by at most `maxGap` (what an origin keeps for repair, see outbox.ts): beyond it the envelope is
 * still delivered (a merge is idempotent) but `last` stays, and a digest round with the origin
 * covers whatever was really missed; the origin's heartbeat, its own word, may move `last` any
 * distance. And an envelope inside the hole left by a smaller gap is delivered, not dropped as a
 * duplicate: the real envelopes a forged one skipped over still arrive in order.
 */

export interface SequenceTrack {
  readonly incarnation: number;
  /** The highest sequence taken in order (or announced by a heartbeat). */
  readonly last: number;
  /** The sequences of the latest hole not yet seen (none when holeFrom > holeTo). */
  readonly holeFrom: number;
  readonly holeTo: number;
}

export interface Placement {
  /** Hand the content on. */
  readonly deliver: boolean;
  /** The track after this envelope (the same object when unchanged). */
  readonly track: SequenceTrack;
  /** Ask the origin for these sequences again. */
  readonly repair?: { readonly from: number; readonly to: number };
  /** A jump past maxGap: sync with the origin (digest round). */
  readonly jump?: true;
  /** An older incarnation's envelope. */
  readonly stale?: true;
}

/** A track starting at `last` (the first word from a process: what came before is the join round's job). */
export function startTrack(incarnation: number, last: number): SequenceTrack {
  return { incarnation, last, holeFrom: 1, holeTo: 0 };
}

/** Place envelope `sequence` of `incarnation` (membership already vouched for the incarnation). */
export function placeEnvelope(t: SequenceTrack, incarnation: number, sequence: number, maxGap: number): Placement {
  if (incarnation < t.incarnation) return { deliver: false, track: t, stale: true };
  // A restart: its sequences start again at 1.
  const track = incarnation > t.incarnation ? startTrack(incarnation, 0) : t;
  const { last, holeFrom, holeTo } = track;
  if (sequence <= last) {
    if (sequence < holeFrom || sequence > holeTo) return { deliver: false, track }; // duplicate
    if (sequence === holeFrom) return { deliver: true, track: { ...track, holeFrom: holeFrom + 1 } };
    if (sequence === holeTo) return { deliver: true, track: { ...track, holeTo: holeTo - 1 } };
    return { deliver: true, track };
  }
  // Every envelope of an origin passes here: its track written out, not spread (~15 ns instead of ~250 ns).
  if (sequence === last + 1) return { deliver: true, track: { incarnation: track.incarnation, last: sequence, holeFrom, holeTo } };
  if (sequence - last - 1 > maxGap) return { deliver: true, track, jump: true };
  const from = last + 1;
  const to = sequence - 1;
  const hole = holeFrom <= holeTo ? { holeFrom: Math.min(holeFrom, from), holeTo: to } : { holeFrom: from, holeTo: to };
  return { deliver: true, track: { incarnation, last: sequence, ...hole }, repair: { from, to } };
}

export interface TailCheck {
  readonly track: SequenceTrack;
  readonly repair?: { readonly from: number; readonly to: number };
  /** The track was ahead of what the origin published: some real envelopes may have been dropped. */
  readonly suspect?: true;
}

/**
 * The origin's heartbeat says it published up to `lastSequence`: a lost tail is a gap; a track
 * beyond it was moved by envelopes that process never published (an impostor's, or a reordering
 * transport), so tracking restarts at the heartbeat's figure. The hole's envelopes were asked for
 * when it opened: the heartbeat closes it.
 */
export function checkTail(t: SequenceTrack | undefined, incarnation: number, lastSequence: number): TailCheck | undefined {
  if (t === undefined || incarnation > t.incarnation) return { track: startTrack(incarnation, lastSequence) };
  if (incarnation < t.incarnation) return undefined;
  const track = startTrack(incarnation, lastSequence);
  if (lastSequence === t.last) return t.holeFrom <= t.holeTo ? { track } : undefined;
  if (lastSequence < t.last) return { track, suspect: true };
  return { track, repair: { from: t.last + 1, to: lastSequence } };
}
