/**
 * The replicator's log: what happens to a node that an operator wants to read about, through the
 * `logger` option (pino-compatible). Without a logger it does nothing: the library prints nothing
 * on its own.
 *
 * It listens from outside the core (the extension context: leadership, the transport's status,
 * the stats counters, the member list) rather than from inside it. Each event is one line;
 * recurring ones (rejected messages, background errors, skipped cross-DC flushes) are summed into
 * at most one line per kind per minute (log-events.ts decides, this file only listens and writes).
 */
import { every, type Clock } from "../clock.js";
import type { ReplicatorContext } from "../extension/context.js";
import type { RejectReason } from "../extension/stats.js";
import { BurstLimiter, increases, memberChanges, type MemberChange, type MemberView } from "./log-events.js";

/** A pino-compatible logger: each method takes an object of fields and a message. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A burst of like events earns at most one line per this long. */
export const BURST_QUIET_MS = 60_000;

const MEMBER_LINES: Record<MemberChange["type"], { level: "info" | "warn"; msg: string }> = {
  joined: { level: "info", msg: "member joined" },
  left: { level: "info", msg: "member left" },
  restarted: { level: "info", msg: "member restarted" },
  unreachable: { level: "warn", msg: "member unreachable" },
  "reachable-again": { level: "info", msg: "member reachable again" },
};

export class ReplicatorLog {
  private readonly errors = new BurstLimiter<unknown>(BURST_QUIET_MS);

  constructor(
    private readonly logger: Logger | undefined,
    private readonly clock: Clock,
  ) {}

  /** A background error (never thrown to the application): a warning, like ones summed per minute. */
  reportError(error: unknown): void {
    if (this.logger === undefined) return;
    this.errors.add(errorKey(error), 1, error);
    this.flushErrors();
  }

  /** Start listening to a running replicator; the returned handle stops. */
  watch(ctx: ReplicatorContext): { close(): void } {
    const log = this.logger;
    if (log === undefined) return { close: () => undefined };
    const dc = ctx.options.dataCenter;
    const offs: (() => void)[] = [];

    offs.push(ctx.onLeaderChange((leader) => log.info({ dc, leader: leader ?? null }, "leader changed")));
    offs.push(
      ctx.transport.onStatus((s) => {
        if (s.type === "disconnect") log.warn({}, "NATS disconnected; reconnecting");
        else if (s.type === "reconnect") log.info({}, "NATS reconnected");
        else if (s.error !== undefined) log.error({ err: s.error }, `NATS connection closed: ${s.error.message}`);
      }),
    );

    const stats = ctx.stats;
    const bursts = new BurstLimiter<undefined>(BURST_QUIET_MS);
    let members = new Map<string, MemberView>(); // the members known at start are logged as joining, at the first tick
    let rejected = new Map(stats.rejected);
    let staleSkips = stats.crossdcStaleSkipCount;
    const tick = (): void => {
      const now = new Map(viewOf(ctx.members()));
      for (const c of memberChanges(members, [...now.values()])) {
        const line = MEMBER_LINES[c.type];
        log[line.level]({ member: c.member.node, memberDc: c.member.dataCenter }, line.msg);
      }
      members = now;
      for (const [reason, n] of increases(rejected, stats.rejected)) bursts.add(`rejected:${reason}`, n, undefined);
      rejected = new Map(stats.rejected);
      bursts.add("crossdc", stats.crossdcStaleSkipCount - staleSkips, undefined);
      staleSkips = stats.crossdcStaleSkipCount;
      for (const b of bursts.due(this.clock.now())) {
        if (b.key === "crossdc") {
          log.warn({ count: b.count }, `${b.count} cross-DC flush(es) skipped or partly unsent (remote DC not connected, not answering, or too slow); the data waits for the next flush`);
        } else {
          const reason = b.key.slice("rejected:".length) as RejectReason;
          log.warn({ reason, count: b.count }, `rejected ${b.count} message(s): ${reason}`);
        }
      }
      this.flushErrors(); // the end of an error burst
    };
    const timer = every(this.clock, ctx.options.heartbeatIntervalMs, tick, (error) => this.reportError(error));
    return {
      close: () => {
        this.clock.clear(timer);
        for (const off of offs) off();
      },
    };
  }

  private flushErrors(): void {
    for (const e of this.errors.due(this.clock.now())) {
      const err = e.sample;
      const message = err instanceof Error ? err.message : String(err);
      this.logger!.warn(e.count > 1 ? { err, count: e.count } : { err }, e.count > 1 ? `${message} (${e.count} times)` : message);
    }
  }
}

function viewOf(members: readonly MemberView[]): Map<string, MemberView> {
  return new Map(members.map((m) => [m.node, { node: m.node, dataCenter: m.dataCenter, reachable: m.reachable, startedAtMs: m.startedAtMs, self: m.self }]));
}

/** Errors alike but for numbers (ids, sizes, times) are one kind for rate limiting. */
function errorKey(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\d+/g, "#").slice(0, 200);
}
