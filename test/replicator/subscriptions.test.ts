/**
 * Per-key subscribers (pure, no network): a notification calls the key's subscribers as they were
 * when it began, whatever they do meanwhile; a throwing one is reported and the others still hear.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GCounter } from "../../src/index.js";
import type { Crdt } from "../../src/crdt/types.js";
import { Subscriptions } from "../../src/replicator/subscriptions.js";

const value = (n: number): Crdt => GCounter.empty().increment("n", n).resetDelta();
const counted = (v: Crdt | undefined): number => (v as GCounter | undefined)?.value ?? -1;

describe("Subscriptions", () => {
  test("one removed during a notification still hears it, not the next; one added during it hears the next, not it", () => {
    const subs = new Subscriptions((e) => assert.fail(String(e)));
    const heard: string[] = [];
    let offB: () => void = () => {};
    subs.add("k", (v) => {
      heard.push(`a${counted(v)}`);
      if (counted(v) === 1) {
        offB();
        subs.add("k", (w) => heard.push(`c${counted(w)}`));
      }
    });
    offB = subs.add("k", (v) => heard.push(`b${counted(v)}`));
    subs.notify("k", value(1));
    subs.notify("k", value(2));
    assert.deepEqual(heard, ["a1", "b1", "a2", "c2"]);
  });

  test("the same function twice is one subscriber; unsubscribing twice, or after the key emptied and was subscribed again, touches nothing else", () => {
    const subs = new Subscriptions((e) => assert.fail(String(e)));
    let calls = 0;
    const f = (): void => void calls++;
    const off1 = subs.add("k", f);
    subs.add("k", f);
    subs.notify("k", value(1));
    assert.equal(calls, 1);
    off1();
    assert.equal(subs.watched("k"), false, "the key's last subscriber gone");
    const off2 = subs.add("k", f);
    off1(); // stale: the entry it belonged to is gone
    subs.notify("k", value(2));
    assert.equal(calls, 2, "the new subscription still hears");
    off2();
    off2();
    subs.notify("k", value(3));
    assert.equal(calls, 2);
    assert.equal(subs.any, false);
  });

  test("a throwing subscriber is reported; the key's other subscribers and the all-keys ones still hear", () => {
    const errors: unknown[] = [];
    const subs = new Subscriptions((e) => errors.push(e));
    const heard: string[] = [];
    subs.add("k", () => {
      throw new Error("boom");
    });
    subs.add("k", (v) => heard.push(`k${counted(v)}`));
    const offAll = subs.addAll((key, v) => heard.push(`${key}:${counted(v)}`));
    subs.notify("k", value(4));
    subs.notify("other", undefined);
    assert.deepEqual(heard, ["k4", "k:4", "other:-1"]);
    assert.equal(errors.length, 1);
    offAll();
    assert.equal(subs.watched("other"), false);
    assert.equal(subs.watched("k"), true);
  });
});
