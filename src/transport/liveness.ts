/**
 * Noticing a hung NATS server. A server that stops answering without closing its connections
 * (SIGSTOP, a frozen VM, a stalled host: its kernel still holds the TCP connection open) is only
 * noticed by silence. The NATS client's own check counts PONGs only, so a client working through a
 * backlog of messages (the PONG queued behind them) looks exactly like one whose server hung; here
 * any message that arrives also proves the server alive, so pings can be frequent without false
 * alarms under load.
 */
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * One ping period passed: `heard` says whether anything (a message, a PONG) arrived since the
 * previous period. Returns the pings now outstanding and whether to send another one or give up
 * on the server. With a ping period P, a server that hangs is given up on within (maxPingOut + 1) P.
 */
export function livenessTick(
  outstanding: number,
  heard: boolean,
  maxPingOut: number,
): { outstanding: number; action: "ping" | "hung" } {
  const unanswered = heard ? 0 : outstanding;
  if (unanswered >= maxPingOut) return { outstanding: unanswered, action: "hung" };
  return { outstanding: unanswered + 1, action: "ping" };
}

export interface LivenessOptions {
  pingInterval: number;
  maxPingOut: number;
}

/**
 * Pings `connection` every `pingInterval` ms while connected and forces a reconnect (to another
 * server of the pool) once `maxPingOut` pings went unanswered with nothing else heard meanwhile.
 * Call `disconnected()`/`reconnected()` on the connection's status changes; `stop()` at close.
 */
export class LivenessMonitor {
  private outstanding = 0;
  private heard = false;
  private lastInBytes: number;
  private connected = true;
  /** Bumped per connection, so a PONG of the previous connection does not count for this one. */
  private generation = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly connection: NatsConnection,
    private readonly options: LivenessOptions,
  ) {
    this.lastInBytes = connection.stats().inBytes;
    this.timer = setInterval(() => this.tick(), options.pingInterval);
    this.timer.unref();
  }

  disconnected(): void {
    this.connected = false;
  }

  reconnected(): void {
    this.connected = true;
    this.generation++;
    this.outstanding = 0;
    this.heard = false;
    this.lastInBytes = this.connection.stats().inBytes;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (!this.connected || this.connection.isClosed()) return;
    const inBytes = this.connection.stats().inBytes;
    const heard = this.heard || inBytes !== this.lastInBytes;
    this.lastInBytes = inBytes;
    this.heard = false;
    const next = livenessTick(this.outstanding, heard, this.options.maxPingOut);
    this.outstanding = next.outstanding;
    if (next.action === "hung") {
      // Until the status stream reports the new connection, do not judge it.
      this.connected = false;
      abandonServer(this.connection);
      return;
    }
    const generation = this.generation;
    this.connection.flush().then(
      () => {
        if (generation === this.generation) this.heard = true;
      },
      () => {}, // disconnected meanwhile: the reconnect resets the count
    );
  }
}

/**
 * Drop the connection to a hung server; the client then dials the next server. The public
 * `reconnect()` first waits until what is buffered for the old socket is written, which never
 * happens when the hung server stopped reading and the socket's buffers are full (meanwhile the
 * client keeps buffering publishes without bound: hundreds of MB in seconds under load). Closing
 * the client's socket transport, as the client itself does after a failed dial, skips that wait.
 * (Internal to @nats-io/nats-core 3.x, pinned in package.json; `reconnect()` if it ever moves.)
 */
function abandonServer(connection: NatsConnection): void {
  const internals = connection as unknown as { protocol?: { transport?: { close?: () => Promise<void> } } };
  const transport = internals.protocol?.transport;
  if (typeof transport?.close === "function") transport.close().catch(() => {});
  else connection.reconnect().catch(() => {}); // closed or draining meanwhile: nothing to do
}
