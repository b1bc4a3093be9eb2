/**
 * Answering requests addressed to this node: coordinated writes and reads, digest rounds, gap
 * repairs, pushes and identity checks on its request subject (`<subject>.node.<id>`, and a remote
 * DC's through the cross-DC link), and the hellos of starting nodes (see identity.ts). A request
 * that cannot be decoded is counted and gets an error reply; an answer that cannot be sent says so
 * rather than let the requester time out.
 *
 * Strangers get nothing (see `admit`): requests for state (read, digest, repair) are answered only
 * to members (a node membership has heard, admitted or not yet: a newcomer's first digest round must
 * work), digest rounds and repairs are rate-limited by what their answers cost, and hellos and
 * identify checks by count. A request turned away is counted; a stranger's gets a short error, a
 * rate-limited one no answer at all (a member's bulk-pull page waits for the limit instead, within
 * bounds: see pacing.ts).
 */
import type { Clock } from "../clock.js";
import { GROUPS } from "../cluster/digest-tree.js";
import type { IncarnationMemory } from "../cluster/incarnations.js";
import type { Departure, ExpectedMember, Member } from "../cluster/membership.js";
import { ConfigError, errorMessage } from "../errors.js";
import { speaksFor, type Transport } from "../transport/types.js";
import {
  decodeMemberHello,
  decodeNodeRequest,
  encodeMemberHelloReply,
  encodeNodeReply,
  type NodeReply,
  type NodeRequest,
  type ReadReply,
} from "../wire/codec.js";
import { type AntiEntropy, RANGE_LEVEL } from "./anti-entropy.js";
import { isHelloReplyTo, processIdentity } from "./identity.js";
import { Pacer } from "./pacing.js";
import { cpuTimeMs, RateLimiter } from "./rate-limit.js";
import type { Merger } from "./merge.js";
import type { Outbox } from "./outbox.js";
import type { ReplicatorStats } from "../extension/stats.js";
import type { Store } from "./store.js";

export interface RequestServerDeps {
  nodeId: string;
  /** The replication subject (hello answers go under it, see identity.ts). */
  subject: string;
  incarnation: number;
  startedAtMs: number;
  transport: Transport;
  /** Bytes below the bus's max payload kept for framing (a repair reply fills the rest). */
  payloadHeadroom: number;
  store: Pick<Store, "get" | "tombstone">;
  merger: Pick<Merger, "fullState">;
  antiEntropy: Pick<AntiEntropy, "answer" | "rangePage" | "catchingUp">;
  outbox: Pick<Outbox, "recentRange">;
  stats: ReplicatorStats;
  members(): Member[];
  /** The agreed membership (who counts in N). */
  agreed(): ExpectedMember[];
  /** The leaves this node remembers (see MembershipTable.rememberedLeaves). */
  rememberedLeaves(): Departure[];
  /** The newest incarnation seen per node id, kept after removal: what a restarting node learns. */
  incarnations: IncarnationMemory;
  /** Whether membership knows `node` (heard its heartbeats; admitted or not). */
  isMember(node: string): boolean;
  /** A starting node's hello, checked and within the rate limits (see peer-capability.ts). */
  heardHello?(node: string): void;
  /** Milliseconds, for the rate limits. */
  now(): number;
  /** Timers of requests waiting for a rate limit (see pacing.ts). */
  clock: Clock;
  isClosed(): boolean;
  reportError(error: unknown): void;
}

/**
 * Rate limits. Digest rounds and repairs by the CPU time answering them took (a bulk pull of a few
 * thousand keys takes ~100 ms; a tree level, well under one): one requester may take a quarter of
 * this node's event loop, all of them together too, after a burst of a second, and a flood cannot
 * starve everything else. Bulk-pull pages are limited apart (BULK_LIMITS).
 * Hellos and identify checks (one per start) by count.
 */
export const STATE_LIMITS = { perSource: { perSecond: 250, burst: 1_000 }, total: { perSecond: 250, burst: 1_000 }, maxSources: 1024 };
/**
 * Bulk-pull pages (digest level 3, a joiner's) have a limiter of their own: half of the loop per
 * requester and in all, after a burst of 2.5 s, so a joiner takes a million keys (2–5 s of
 * answering) in seconds, and its pull does not use up what the ordinary rounds and repairs may
 * take. A member over it waits (see pacing.ts, PACING) instead of timing out. Past the limit, a
 * page is still answered when the loop has been idle most of the last second (SPARE_LOOP_BUSY):
 * time nothing else wanted, so a node nobody else uses answers a joiner of ten million keys at
 * the pace it can build pages, not at half of it; what such a page costs is not charged. At most
 * BULK_TURN_MS of pages run per event-loop turn, so everything else keeps its turns.
 */
export const BULK_LIMITS = { perSource: { perSecond: 500, burst: 2_500 }, total: { perSecond: 500, burst: 2_500 }, maxSources: 1024 };
/**
 * A bulk-pull page over BULK_LIMITS is answered anyway while the event loop was busy less than this
 * share of the last second (Clock.loopBusy): pages then take what would be idle, up to about this
 * share, and at most half of a loop busy with other work (the limit). Answering state takes at most
 * three quarters of a busy loop (STATE_LIMITS, BULK_LIMITS).
 */
export const SPARE_LOOP_BUSY = 0.85;
/** Longest a page held for BULK_LIMITS waits before it asks again whether the loop has spare time, ms. */
export const SPARE_RECHECK_MS = 25;
/** Most time one event-loop turn spends answering bulk-pull pages, ms (past it they wait for the next turn). */
export const BULK_TURN_MS = 20;
/** Bulk-pull pages waiting for BULK_LIMITS: a joiner's streams, a few joiners, under a request timeout. */
export const PACING = { perSource: 4, total: 32, maxWaitMs: 3_000 };
/** The least an answer is charged, ms (a flood of cheap requests still costs decoding and replying). */
export const MIN_CHARGE_MS = 0.1;
export const HELLO_LIMITS = { perSource: { perSecond: 5, burst: 20 }, total: { perSecond: 50, burst: 200 }, maxSources: 1024 };

/** The requester's round fails and is retried (sync-scheduler.ts, SYNC_RETRY_MS), after our catch-up. */
const CATCHING_UP: NodeReply = { type: "error", error: "catching up (a bulk pull is under way): try the digest round again later" };
const NOT_MEMBER = encodeNodeReply({ type: "error", error: "not a member (yet): no heartbeat of the requester was heard" });

export class RequestServer {
  private readonly stateLimit = new RateLimiter(STATE_LIMITS);
  private readonly helloLimit = new RateLimiter(HELLO_LIMITS);
  private readonly bulkLimit = new RateLimiter(BULK_LIMITS);
  private readonly pacer: Pacer;

  constructor(private readonly deps: RequestServerDeps) {
    this.pacer = new Pacer(PACING, deps.clock);
  }

  /**
   * A request on this node's subject, signed by `signer` (with signing on). Never throws; a bad
   * request or a stranger's gets an error reply, a rate-limited one none.
   */
  serve(data: Uint8Array, reply: string | undefined, signer?: string): void {
    const d = this.deps;
    let answer: NodeReply | Uint8Array;
    try {
      const request = decodeNodeRequest(data);
      const claimed = requester(request, d.nodeId);
      if (claimed !== undefined && !speaksFor(signer, claimed)) {
        d.stats.reject("forged-origin");
        answer = { type: "error", error: `request signed by "${signer}" claims to come from "${claimed}"` };
      } else {
        const refused = this.admit(request);
        if (refused !== undefined) {
          if (refused === "rate-limited" && this.paced(request, reply)) return;
          d.stats.reject(refused);
          // A member not heard yet (after a partition, our heartbeats crossed) learns it at once and
          // retries later; a flood gets nothing but silence, its backpressure.
          if (refused === "not-member" && reply !== undefined && !d.isClosed()) d.transport.respond(reply, NOT_MEMBER);
          return;
        }
        answer = this.charged(request);
      }
    } catch (error) {
      d.stats.reject("bad-request");
      answer = { type: "error", error: errorMessage(error) };
    }
    this.send(reply, answer);
  }

  /**
   * A member's bulk-pull page over the limit waits for it (see pacing.ts) when the pacer's bounds
   * allow: true when it will be answered then.
   */
  private paced(request: NodeRequest, reply: string | undefined, sinceMs = this.deps.now()): boolean {
    const d = this.deps;
    // Only what a bulk pull sends (a held request stays small): a range request names one key at
    // most (its cursor) and each group once at most.
    if (request.type !== "digest" || request.level !== RANGE_LEVEL || request.keys.length > 1 || request.buckets.length > GROUPS || reply === undefined) return false;
    const run = (): void => {
      if (d.isClosed()) return;
      if (!this.bulkMayAnswer(request.from)) {
        // Another page took the tokens meanwhile: wait again (within the same bound).
        if (!this.paced(request, reply, sinceMs)) d.stats.reject("rate-limited");
        return;
      }
      let answer: NodeReply | Uint8Array;
      try {
        answer = this.charged(request);
      } catch (error) {
        d.stats.reject("bad-request");
        answer = { type: "error", error: errorMessage(error) };
      }
      this.send(reply, answer);
    };
    const waitMs = this.bulkLimit.waitMs(request.from, d.now());
    return this.pacer.hold(request.from, d.clock.loopBusy === undefined ? waitMs : Math.min(waitMs, SPARE_RECHECK_MS), run, sinceMs);
  }

  /**
   * Whether a bulk-pull page of `source` may be answered now: within BULK_LIMITS or in spare time,
   * and this event-loop turn has not answered pages for BULK_TURN_MS yet (a burst of requests that
   * arrive together is spread over turns, so it never blocks the loop for the whole burst).
   */
  private bulkMayAnswer(source: string): boolean {
    return this.bulkTurnMs < BULK_TURN_MS && (this.bulkLimit.allow(source, this.deps.now()) || this.loopHasSpare());
  }

  /** Whether the event loop was idle enough lately for a bulk page past its limit (SPARE_LOOP_BUSY). */
  private loopHasSpare(): boolean {
    return (this.deps.clock.loopBusy?.() ?? 1) < SPARE_LOOP_BUSY;
  }

  /** Time spent answering bulk pages in this event-loop turn, ms (reset at the next turn). */
  private bulkTurnMs = 0;

  /**
   * The answer to an admitted request of this DC's bus, charged to its rate limit (by the CPU time
   * it took, see cpuTimeMs). A bulk-pull page comes encoded (written without an object per key, see
   * range-pages.ts); the turn's share of pages counts wall time (what the rest of the loop waits).
   */
  private charged(request: NodeRequest): NodeReply | Uint8Array {
    const d = this.deps;
    const startedMs = performance.now();
    const startedCpuMs = cpuTimeMs();
    const range = request.type === "digest" && request.level === RANGE_LEVEL;
    // Admitted past its limit: in spare time (bulkMayAnswer), which is not charged.
    const spare = range && !this.bulkLimit.allow(request.from, d.now());
    const answer = range ? d.antiEntropy.rangePage(request, request.from) : this.answer(request, true);
    if (request.type === "digest" || request.type === "repair") {
      if (!spare) (range ? this.bulkLimit : this.stateLimit).charge(request.from, Math.max(MIN_CHARGE_MS, cpuTimeMs() - startedCpuMs), d.now());
      if (range) {
        if (this.bulkTurnMs === 0) d.clock.soon(() => (this.bulkTurnMs = 0));
        this.bulkTurnMs += Math.max(MIN_CHARGE_MS, performance.now() - startedMs);
      }
    }
    return answer;
  }

  private send(reply: string | undefined, answer: NodeReply | Uint8Array): void {
    const d = this.deps;
    if (reply === undefined || d.isClosed()) return;
    try {
      d.transport.respond(reply, answer instanceof Uint8Array ? answer : encodeNodeReply(answer));
    } catch (error) {
      // e.g. the answer does not fit a message: say so rather than let the requester time out.
      d.reportError(error);
      try {
        d.transport.respond(reply, encodeNodeReply({ type: "error", error: `cannot answer: ${errorMessage(error)}` }));
      } catch (again) {
        d.reportError(again);
      }
    }
  }

  /** Why `request` gets no answer, if it does not (see the file's header). */
  private admit(request: NodeRequest): "not-member" | "rate-limited" | undefined {
    const d = this.deps;
    switch (request.type) {
      case "push":
      case "write":
        return undefined; // content, like the delta subject's: only the cluster key keeps strangers' out
      case "identify":
        return take(this.helloLimit, `identify ${request.from}`, d.now());
      case "read":
        return d.isMember(request.from) ? undefined : "not-member";
      case "digest":
      case "repair": {
        if (!d.isMember(request.from)) return "not-member";
        const allowed = request.type === "digest" && request.level === RANGE_LEVEL ? this.bulkMayAnswer(request.from) : this.stateLimit.allow(request.from, d.now());
        return allowed ? undefined : "rate-limited"; // charged when answered
      }
    }
  }

  /**
   * A digest round or push from another data center's leader (xdc/receiver.ts). Its requester is
   * no member here, so only the rate limit applies: digest rounds are charged the CPU time answering them
   * took, per requester and in all, like members' (undefined: refused, answer nothing).
   */
  answerRemote(request: NodeRequest): NodeReply | undefined {
    const d = this.deps;
    if (request.type !== "digest") return this.answer(request, false);
    const source = `remote-dc ${request.from}`;
    if (!this.stateLimit.allow(source, d.now())) {
      d.stats.reject("rate-limited");
      return undefined;
    }
    const startedCpuMs = cpuTimeMs();
    const answer = this.answer(request, false);
    this.stateLimit.charge(source, Math.max(MIN_CHARGE_MS, cpuTimeMs() - startedCpuMs), d.now());
    return answer;
  }

  /** `local`: the request came over this DC's bus (the requester has a direct subject here); else from a remote DC. */
  answer(request: NodeRequest, local: boolean): NodeReply {
    const d = this.deps;
    const origin = local ? "sync" : "remote-dc";
    switch (request.type) {
      case "write":
        return acknowledge(d.nodeId, d.merger.fullState({ entries: request.deltas, tombstones: request.tombstones }, origin));
      case "read":
        return { type: "read", ...readReply(d.store, d.nodeId, request.key) };
      case "digest":
        // A round with a node that is catching up would push it everything its bulk pull brings.
        if (request.level !== RANGE_LEVEL && d.antiEntropy.catchingUp) return CATCHING_UP;
        return { type: "digest", ...d.antiEntropy.answer(request, local) };
      case "repair": {
        // As many as fit one reply (at least one); the requester asks again for the rest.
        const budget = Math.floor((d.transport.maxPayload - d.payloadHeadroom) * 0.9);
        const envelopes = request.incarnation === d.incarnation ? d.outbox.recentRange(request.fromSequence, request.toSequence, budget, request.from) : undefined;
        return { type: "repair", envelopes: envelopes ?? [], complete: envelopes !== undefined };
      }
      case "push":
        return acknowledge(d.nodeId, d.merger.fullState(request, origin));
      case "identify":
        // Another process is starting with our node id: its start fails with our answer.
        d.reportError(new ConfigError(`process ${request.from} tried to start as node "${d.nodeId}", which this process holds`));
        return { type: "identity", ...processIdentity(d.incarnation, d.startedAtMs) };
    }
  }

  /** A starting node asks what we know of its node id (see identity.ts). Never throws. */
  answerHello(data: Uint8Array, reply: string | undefined, signer?: string): void {
    const d = this.deps;
    if (d.isClosed()) return;
    try {
      const hello = decodeMemberHello(data);
      if (!speaksFor(signer, hello.node)) {
        d.stats.reject("forged-origin");
        return;
      }
      if (!isHelloReplyTo(d.subject, hello.node, hello.replyTo)) {
        d.stats.reject("bad-request");
        return;
      }
      if (take(this.helloLimit, hello.node, d.now()) !== undefined) {
        d.stats.reject("rate-limited");
        return;
      }
      d.heardHello?.(hello.node);
      const members = d.members();
      const current = members.find((m) => m.node === hello.node)?.incarnation ?? 0;
      const answer = encodeMemberHelloReply({
        from: d.nodeId,
        incarnation: Math.max(current, d.incarnations.get(hello.node)),
        youngestStartedAtMs: Math.max(...members.map((m) => m.startedAtMs)),
        members: members.filter((m) => m.reachable && m.node !== hello.node).length,
        counted: d.agreed().filter((m) => m.node !== hello.node).map((m) => ({ ...m, roles: [...m.roles] })),
        left: d.rememberedLeaves().filter((l) => l.node !== hello.node),
      });
      // The request's reply ends the asker's wait for a first answer; replyTo collects them all.
      if (reply !== undefined) d.transport.respond(reply, answer);
      d.transport.publish(hello.replyTo, answer);
    } catch (error) {
      d.stats.reject("bad-request");
      d.reportError(error);
    }
  }
}

/**
 * The node a request claims to come from: its `from`, except an identity check, which only a
 * process starting with this node's own id sends (its `from` names a host and pid), and a push,
 * which names nobody (any member may push what it holds).
 */
export function requester(request: NodeRequest, nodeId: string): string | undefined {
  if (request.type === "identify") return nodeId;
  return request.type === "push" ? undefined : request.from;
}

/** One request of `source` on a count-limited `limiter`: taken, or refused. */
function take(limiter: RateLimiter, source: string, nowMs: number): "rate-limited" | undefined {
  if (!limiter.allow(source, nowMs)) return "rate-limited";
  limiter.charge(source, 1, nowMs);
  return undefined;
}

/** A write acknowledges only what was stored: entries refused for clock skew make it fail. */
export function acknowledge(nodeId: string, skewed: number): NodeReply {
  if (skewed === 0) return { type: "write", ok: true, error: "" };
  return { type: "write", ok: false, error: `${skewed} change(s) stamped more than maxClockSkewMs ahead of ${nodeId}'s clock were refused` };
}

/** This replica's value or tombstone of `key`, as a coordinated read's reply carries it. */
export function readReply(store: Pick<Store, "get" | "tombstone">, nodeId: string, key: string): ReadReply {
  const v = store.get(key);
  if (v !== undefined) return { found: true, state: { key, kind: v.kind, originNode: nodeId, value: v.value } };
  const t = store.tombstone(key);
  if (t !== undefined) return { found: true, tombstone: { ...t } };
  return { found: false };
}
