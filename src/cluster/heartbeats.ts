/**
 * The imperative shell around MembershipTable: publishes this node's heartbeat, listens to
 * everyone's, stamps them with the local clock, ticks the table, and hands events to a callback.
 *
 * The codec is injected (the protobuf codec lives in src/wire), so this file depends only on the
 * transport contract. Nothing here throws out of a timer or a message handler: bad heartbeats are
 * counted in `rejected`, failed publishes and listener errors go to `onError`.
 */
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { speaksFor, type Transport } from "../transport/types.js";
import {
  MembershipTable,
  type Heartbeat,
  type Member,
  type Departure,
  type ExpectedMember,
  type MembershipEvent,
  type SelfInfo,
} from "./membership.js";

/**
 * What travels on the members subject: proto `Heartbeat`, 64-bit fields as numbers. A received
 * one becomes a membership `Heartbeat`: the same fields, stamped with the receiver's clock instead.
 */
export interface HeartbeatInfo extends Omit<Heartbeat, "receivedAtMs" | "removed"> {
  /** Absent (an older sender): none. */
  readonly removed?: readonly string[];
  /** When the sender sent it, on the sender's clock. */
  readonly sentAtMs: number;
}

export interface HeartbeaterOptions {
  readonly transport: Transport;
  /** e.g. `${base}.members`. */
  readonly subject: string;
  readonly self: SelfInfo;
  readonly encode: (hb: HeartbeatInfo) => Uint8Array;
  /** Throws on bad bytes; the heartbeat is then counted in `rejected` and dropped. */
  readonly decode: (bytes: Uint8Array) => HeartbeatInfo;
  readonly heartbeatIntervalMs: number;
  readonly failureTimeoutMs: number;
  readonly removalTimeoutMs: number;
  /** Members the node's peers count, learned before it hears them (see MembershipTable.expect). */
  readonly expected?: readonly ExpectedMember[];
  /** Leaves the node's peers remember, learned at start (see MembershipTable.inheritLeaves). */
  readonly inheritedLeaves?: readonly Departure[];
  /** Roles whose per-DC leader changes are reported too (see MembershipOptions). */
  readonly leaderRoles?: readonly string[];
  /** Receives every non-empty batch of membership events, in order. */
  readonly onEvents: (events: MembershipEvent[]) => void;
  /**
   * Every well-formed heartbeat of another node (e.g. to compare `lastSequence` for a lost tail),
   * and of another process claiming this node's id (another incarnation).
   */
  readonly onHeartbeat?: (hb: Heartbeat) => void;
  /** A heartbeat signed by another node than the one it describes (with signing on): dropped. */
  readonly onForged?: (hb: HeartbeatInfo, signer: string) => void;
  /** Failed publishes and exceptions thrown by the callbacks; they never stop the heartbeater. */
  readonly onError?: (error: unknown) => void;
  /** The last delta sequence this node published, advertised in each heartbeat. */
  readonly lastSequence?: () => number;
  /** Nodes gone from this DC whose ids this node still holds unfolded, advertised in each heartbeat (see Heartbeat.unpruned). */
  readonly unpruned?: () => readonly string[];
  /** Timers, and the wall clock unless `now` is given. Default: the system's. */
  readonly clock?: Clock;
  /** Wall clock in ms; injectable for tests. */
  readonly now?: () => number;
}

export class Heartbeater {
  /** Heartbeats dropped: undecodable or malformed. */
  rejected = 0;
  readonly table: MembershipTable;
  private readonly o: HeartbeaterOptions;
  private readonly clock: Clock;
  private readonly now: () => number;
  private timers: TimerHandle[] = [];
  private unsubscribers: (() => void)[] = [];
  private running = false;
  private promptBeatAtMs = Number.NEGATIVE_INFINITY;
  /** The greeting beat due at the end of the current quarter period (see greetNewcomers). */
  private greeting: TimerHandle | undefined;

  constructor(options: HeartbeaterOptions) {
    const { heartbeatIntervalMs, failureTimeoutMs } = options;
    if (!(Number.isFinite(heartbeatIntervalMs) && heartbeatIntervalMs > 0)) {
      throw new InvalidArgumentError("heartbeatIntervalMs must be a finite number > 0");
    }
    if (!(failureTimeoutMs > heartbeatIntervalMs)) {
      // Otherwise every member flaps to unreachable between two heartbeats.
      throw new InvalidArgumentError("failureTimeoutMs must be greater than heartbeatIntervalMs");
    }
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.now = options.now ?? this.clock.now;
    this.table = new MembershipTable(options.self, {
      failureTimeoutMs,
      removalTimeoutMs: options.removalTimeoutMs,
      ...(options.leaderRoles !== undefined ? { leaderRoles: options.leaderRoles } : {}),
    });
    this.table.expect(options.expected ?? [], this.now());
    this.table.inheritLeaves(options.inheritedLeaves ?? [], this.now());
  }

  /**
   * Subscribe, announce this node at once, then beat and tick on timers. Idempotent. Throws only if
   * the transport refuses the subscription (e.g. already closed), leaving nothing half-started.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    try {
      this.unsubscribers.push(
        this.o.transport.subscribe(this.o.subject, (msg) => this.receive(msg.data, msg.signer)),
      );
      // After a reconnect peers may have removed us: announce at once instead of a period later.
      this.unsubscribers.push(
        this.o.transport.onStatus((s) => {
          if (s.type === "reconnect") this.beat(false);
        }),
      );
    } catch (error) {
      this.stop();
      throw error;
    }
    this.beat(false);
    // Tick several times per failure timeout so detection lags by a fraction of it, not a period.
    const tickMs = Math.max(1, Math.min(this.o.heartbeatIntervalMs, this.o.failureTimeoutMs / 4));
    this.timers.push(
      this.clock.setInterval(() => this.beat(false), this.o.heartbeatIntervalMs),
      this.clock.setInterval(() => this.tick(), tickMs),
    );
    // Timers must never keep the process alive on their own.
    for (const t of this.timers) t.unref();
  }

  /** Stop beating and listening, without announcing a leave (a crash looks like this to peers). */
  stop(): void {
    this.running = false;
    for (const t of this.timers) this.clock.clear(t);
    this.timers = [];
    this.clock.clear(this.greeting);
    this.greeting = undefined;
    for (const off of this.unsubscribers.splice(0)) off();
  }

  /**
   * Graceful leave: stop, publish a leaving heartbeat, and wait until it reached the bus. Peers then
   * ignore this incarnation for removalTimeoutMs, so a node that comes back must use a new one.
   */
  async leave(): Promise<void> {
    this.stop();
    if (this.beat(true)) {
      try {
        await this.o.transport.flush();
      } catch (error) {
        this.report(error);
      }
    }
  }

  members(): Member[] {
    return this.table.members();
  }

  /** Members known, self included, optionally of one DC and one role (N for quorums, see MembershipTable.known). */
  known(dataCenter?: string, role?: string): number {
    return this.table.known(dataCenter, role);
  }

  leader(dataCenter?: string, role?: string): string | undefined {
    return this.table.leader(dataCenter, role);
  }

  /** Run the failure detector now (also runs on a timer). */
  tick(): void {
    let events: MembershipEvent[];
    try {
      events = this.table.tick(this.now());
    } catch (error) {
      this.report(error); // only a broken injected clock gets here; never throw out of a timer
      return;
    }
    this.emit(events);
  }

  private beat(leaving: boolean): boolean {
    const { self } = this.o;
    try {
      const bytes = this.o.encode({
        node: self.node,
        dataCenter: self.dataCenter,
        roles: self.roles,
        startedAtMs: self.startedAtMs,
        incarnation: self.incarnation,
        lastSequence: this.o.lastSequence?.() ?? 0,
        leaving,
        ...this.table.votes(this.now()),
        unpruned: this.o.unpruned?.() ?? [],
        sentAtMs: this.now(),
      });
      this.o.transport.publish(this.o.subject, bytes);
      return true;
    } catch (error) {
      this.report(error); // e.g. disconnected or closed: the next beat (or reconnect) retries
      return false;
    }
  }

  private receive(data: Uint8Array, signer: string | undefined): void {
    let hb: Heartbeat;
    let events: MembershipEvent[];
    try {
      const info = this.o.decode(data);
      if (!speaksFor(signer, info.node)) {
        this.o.onForged?.(info, signer!);
        return;
      }
      hb = {
        node: info.node,
        dataCenter: info.dataCenter,
        roles: info.roles,
        startedAtMs: info.startedAtMs,
        incarnation: info.incarnation,
        lastSequence: info.lastSequence,
        leaving: info.leaving,
        silent: info.silent,
        vouched: info.vouched,
        removed: info.removed ?? [],
        left: info.left ?? [],
        compactDeltas: info.compactDeltas === true,
        readsMarkers: info.readsMarkers === true,
        unpruned: info.unpruned ?? [],
        receivedAtMs: this.now(),
      };
      events = this.table.observe(hb);
    } catch {
      this.rejected++;
      return;
    }
    const self = this.o.self;
    if ((hb.node !== self.node || hb.incarnation !== self.incarnation) && this.o.onHeartbeat !== undefined) {
      try {
        this.o.onHeartbeat(hb);
      } catch (error) {
        this.report(error);
      }
    }
    if (this.running && events.some((e) => e.type === "joined")) this.greetNewcomers();
    this.emit(events);
  }

  /**
   * A newcomer would otherwise learn of us only at our next period: answer its arrival at once, so
   * its join sync starts within a round trip instead of up to a heartbeat interval later. At most
   * one such beat per quarter period (forged heartbeats of invented ids must not make every member
   * publish one each: one beat answers every newcomer); a newcomer that comes sooner after the last
   * one is answered when that quarter ends, not left to wait for the next period.
   */
  private greetNewcomers(): void {
    if (this.greeting !== undefined) return; // a beat is due: it answers this newcomer too
    const waitMs = this.promptBeatAtMs + this.o.heartbeatIntervalMs / 4 - this.now();
    if (waitMs <= 0) return this.greet();
    this.greeting = this.clock.setTimeout(() => {
      this.greeting = undefined;
      if (this.running) this.greet();
    }, waitMs);
    this.greeting.unref();
  }

  private greet(): void {
    this.promptBeatAtMs = this.now();
    this.beat(false);
  }

  private emit(events: MembershipEvent[]): void {
    if (events.length === 0) return;
    try {
      this.o.onEvents(events);
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    try {
      this.o.onError?.(error);
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  }
}
