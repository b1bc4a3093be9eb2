// Sequence bookkeeping decided without a network (src/replicator/sequence.ts): gaps, holes, and
// jumps too far ahead to believe.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkTail, placeEnvelope, startTrack } from "../../src/replicator/sequence.js";

const MAX_GAP = 100;

describe("placeEnvelope", () => {
  it("takes the next sequence, drops duplicates and older incarnations", () => {
    const t = startTrack(5, 10);
    const next = placeEnvelope(t, 5, 11, MAX_GAP);
    assert.equal(next.deliver, true);
    assert.equal(next.track.last, 11);
    assert.equal(placeEnvelope(next.track, 5, 11, MAX_GAP).deliver, false);
    assert.equal(placeEnvelope(next.track, 5, 3, MAX_GAP).deliver, false);
    const stale = placeEnvelope(next.track, 4, 12, MAX_GAP);
    assert.equal(stale.deliver, false);
    assert.equal(stale.stale, true);
  });

  it("a restart starts again at 1", () => {
    const p = placeEnvelope(startTrack(5, 900), 6, 1, MAX_GAP);
    assert.deepEqual([p.deliver, p.track.incarnation, p.track.last, p.repair], [true, 6, 1, undefined]);
  });

  it("a gap within the bound is repaired and its hole's envelopes are still taken when they come", () => {
    const p = placeEnvelope(startTrack(5, 10), 5, 50, MAX_GAP);
    assert.deepEqual(p.repair, { from: 11, to: 49 });
    assert.equal(p.track.last, 50);
    // The real envelopes a forged one skipped over arrive in order: delivered, not duplicates.
    let t = p.track;
    for (let s = 11; s <= 49; s++) {
      const q = placeEnvelope(t, 5, s, MAX_GAP);
      assert.equal(q.deliver, true, `sequence ${s}`);
      t = q.track;
    }
    assert.ok(t.holeFrom > t.holeTo, "the hole is filled");
    assert.equal(placeEnvelope(t, 5, 30, MAX_GAP).deliver, false, "now a duplicate");
  });

  it("a jump past the bound is delivered but does not move the track, and asks for a sync", () => {
    const t = startTrack(5, 10);
    const p = placeEnvelope(t, 5, 10 + MAX_GAP + 2, MAX_GAP);
    assert.deepEqual([p.deliver, p.jump, p.repair, p.track], [true, true, undefined, t]);
    // The real next envelope is still the next one.
    assert.equal(placeEnvelope(p.track, 5, 11, MAX_GAP).track.last, 11);
    // One short of the bound is an ordinary gap.
    assert.deepEqual(placeEnvelope(t, 5, 10 + MAX_GAP + 1, MAX_GAP).repair, { from: 11, to: 10 + MAX_GAP });
  });
});

describe("checkTail", () => {
  it("starts a track at the first heartbeat and at a new incarnation; ignores an older one", () => {
    assert.deepEqual(checkTail(undefined, 5, 7)?.track, startTrack(5, 7));
    assert.deepEqual(checkTail(startTrack(5, 7), 6, 2)?.track, startTrack(6, 2));
    assert.equal(checkTail(startTrack(6, 2), 5, 9), undefined);
  });

  it("a lost tail is a gap (any distance: a heartbeat is the origin's own word); a track ahead is suspect", () => {
    assert.deepEqual(checkTail(startTrack(5, 7), 5, 1_000_000)?.repair, { from: 8, to: 1_000_000 });
    const ahead = checkTail(startTrack(5, 70), 5, 9);
    assert.deepEqual([ahead?.track.last, ahead?.suspect], [9, true]);
    assert.equal(checkTail(startTrack(5, 7), 5, 7), undefined);
  });

  it("closes an open hole", () => {
    const holed = placeEnvelope(startTrack(5, 10), 5, 20, MAX_GAP).track;
    const c = checkTail(holed, 5, 20);
    assert.ok(c !== undefined && c.track.holeFrom > c.track.holeTo);
  });
});
