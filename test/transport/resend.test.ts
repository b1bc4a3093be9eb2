/**
 * The pure parts of failing over to another NATS server: when a server counts as hung
 * (livenessTick), which server is dialled next (leastRecentlyTried), and requests sent again after
 * a reconnect (Resender), with fake attempts and a fake clock.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Server } from "@nats-io/transport-node";
import { livenessTick } from "../../src/transport/liveness.js";
import { leastRecentlyTried } from "../../src/transport/nats.js";
import { Resender } from "../../src/transport/resend.js";

describe("livenessTick", () => {
  it("gives up after maxPingOut unanswered pings, not before", () => {
    let outstanding = 0;
    const actions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const next = livenessTick(outstanding, false, 2);
      outstanding = next.outstanding;
      actions.push(next.action);
    }
    assert.deepEqual(actions, ["ping", "ping", "hung"]);
  });

  it("anything heard since the last period resets the count", () => {
    assert.deepEqual(livenessTick(2, true, 2), { outstanding: 1, action: "ping" });
    assert.deepEqual(livenessTick(1, true, 1), { outstanding: 1, action: "ping" });
    assert.equal(livenessTick(1, false, 1).action, "hung");
  });
});

describe("leastRecentlyTried", () => {
  const server = (listen: string, lastConnect: number): Server =>
    ({ hostname: "127.0.0.1", port: 1, listen, src: listen, tlsName: "", reconnects: 0, lastConnect, gossiped: false, didConnect: lastConnect > 0 });

  it("skips the server just lost for one not tried for longer", () => {
    const pool = [server("lost", 5_000), server("b", 0), server("c", 0)];
    assert.equal(leastRecentlyTried(pool)?.listen, "b");
    assert.equal(leastRecentlyTried([server("lost", 5_000), server("b", 3_000), server("c", 1_000)])?.listen, "c");
  });

  it("leaves the client's choice alone when it is already the least recently tried", () => {
    assert.equal(leastRecentlyTried([server("a", 0), server("b", 0)]), null); // first connect
    assert.equal(leastRecentlyTried([server("a", 1_000), server("b", 2_000)]), null);
    assert.equal(leastRecentlyTried([]), null);
  });
});

/** A request attempt under test control: answer or fail it later. */
interface Attempt {
  timeoutMs: number;
  answer(v: string): void;
  fail(e: Error): void;
}

function harness(): { resender: Resender; attempts: Attempt[]; clock: { now: number }; send: (ms: number) => Promise<string> } {
  const clock = { now: 0 };
  const attempts: Attempt[] = [];
  const send = (timeoutMs: number): Promise<string> =>
    new Promise<string>((answer, fail) => attempts.push({ timeoutMs, answer, fail }));
  return { resender: new Resender(() => clock.now), attempts, clock, send };
}

describe("Resender", () => {
  it("sends a waiting request again after a reconnect, with what is left of its timeout", async () => {
    const { resender, attempts, clock, send } = harness();
    const reply = resender.request(5_000, send);
    clock.now = 1_500;
    resender.reconnected();
    assert.deepEqual(attempts.map((a) => a.timeoutMs), [5_000, 3_500]);
    attempts[1]!.answer("from the re-send");
    assert.equal(await reply, "from the re-send");
    assert.equal(resender.size, 0);
    resender.reconnected();
    assert.equal(attempts.length, 2, "an answered request is not sent again");
  });

  it("a late reply to the first attempt still answers", async () => {
    const { resender, attempts, clock, send } = harness();
    const reply = resender.request(5_000, send);
    clock.now = 1_000;
    resender.reconnected();
    attempts[0]!.answer("late but fine");
    assert.equal(await reply, "late but fine");
  });

  it("only the latest attempt's failure fails the request", async () => {
    const { resender, attempts, clock, send } = harness();
    const reply = resender.request(5_000, send);
    clock.now = 1_000;
    resender.reconnected();
    attempts[0]!.fail(new Error("superseded timeout"));
    await Promise.resolve();
    attempts[1]!.fail(new Error("no reply within 4000 ms"));
    await assert.rejects(reply, /no reply within 4000 ms/);
    assert.equal(resender.size, 0);
  });

  it("does not send again once the timeout has passed", async () => {
    const { resender, attempts, clock, send } = harness();
    const reply = resender.request(1_000, send);
    clock.now = 1_000;
    resender.reconnected();
    assert.equal(attempts.length, 1);
    attempts[0]!.fail(new Error("timeout"));
    await assert.rejects(reply, /timeout/);
  });

  it("an attempt that throws fails the request like a rejection", async () => {
    const resender = new Resender();
    await assert.rejects(
      resender.request(1_000, () => {
        throw new Error("closed");
      }),
      /closed/,
    );
    assert.equal(resender.size, 0);
  });
});
