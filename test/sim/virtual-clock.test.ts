/** The simulation's virtual clock: order of timers, intervals, cancellation, and promise chains run between timers. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { VirtualClock } from "./virtual-clock.js";

test("timers fire in (due time, creation) order; intervals repeat; cleared timers never fire", async () => {
  const clock = new VirtualClock(1_000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
  clock.soon(() => fired.push(`soon@${clock.now()}`));
  clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
  const tick = clock.setInterval(() => fired.push(`i@${clock.now()}`), 15);
  const never = clock.setTimeout(() => fired.push("never"), 5);
  clock.clear(never);
  await clock.advance(30);
  assert.deepEqual(fired, ["soon@1000", "a@1010", "i@1015", "b@1020", "c@1020", "i@1030"]);
  assert.equal(clock.now(), 1_030);
  clock.clear(tick);
  await clock.advance(100);
  assert.equal(fired.length, 6);
});

test("what a timer's callback resolves runs before the next timer", async () => {
  const clock = new VirtualClock(0);
  const order: string[] = [];
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));
  void (async () => {
    await sleep(10);
    await Promise.resolve();
    order.push("after sleep");
  })();
  clock.setTimeout(() => order.push("next timer"), 10);
  await clock.advance(10);
  assert.deepEqual(order, ["after sleep", "next timer"]);
});

test("until stops as soon as the condition holds, or at the limit", async () => {
  const clock = new VirtualClock(0);
  let n = 0;
  clock.setInterval(() => n++, 10);
  assert.equal(await clock.until(() => n === 3, 1_000), true);
  assert.equal(clock.now(), 30);
  assert.equal(await clock.until(() => n === 1_000, 100), false);
  assert.equal(clock.now(), 130);
});
