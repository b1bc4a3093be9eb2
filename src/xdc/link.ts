/**
 * This node's connection to one remote DC's NATS. Opened in the background so that a remote DC that
 * is down when a node starts never fails (or delays) `Replicator.start`: the first connection is
 * retried with backoff until it succeeds, after which the NATS client reconnects by itself
 * (forever, see src/transport/nats.ts). `up` says whether a send can be attempted right now.
 */
import type { RemoteDataCenter } from "./options.js";
import { connectNats } from "../transport/nats.js";
import type { Transport } from "../transport/types.js";

export type LinkEvent = "connected" | "reconnected";

export interface LinkOptions {
  remote: RemoteDataCenter;
  /** Client name shown in the remote server's monitoring pages. */
  clientName: string;
  /** The connection as sends use it (authenticated like this DC's bus when `security` is set). */
  wrap: (transport: Transport) => Transport;
  /** Called when the link becomes usable (first connection, or back after a disconnect). */
  onUp: (event: LinkEvent) => void;
  onError: (error: unknown) => void;
}

export class RemoteLink {
  readonly name: string;
  private current: Transport | undefined;
  private connected = false;
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeRetry: (() => void) | undefined;
  private offStatus: (() => void) | undefined;
  /** Failed attempts of the first connection (for diagnostics). */
  connectFailures = 0;

  constructor(private readonly o: LinkOptions) {
    this.name = o.remote.name;
  }

  /** Start connecting in the background; returns at once. */
  open(): void {
    void this.connectLoop();
  }

  /** True when connected right now (a send may still time out). */
  get up(): boolean {
    return this.connected && !this.closed;
  }

  /** The connection, once opened (it may be disconnected: check `up`). */
  get transport(): Transport | undefined {
    return this.current;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    this.offStatus?.();
    const t = this.current;
    this.current = undefined;
    if (t !== undefined) await t.close();
  }

  private async connectLoop(): Promise<void> {
    // The first connection is retried after 250 ms, doubling up to 2 s.
    let delay = 250;
    const maxDelay = 2_000;
    const r = this.o.remote;
    while (!this.closed) {
      let t: Transport;
      try {
        t = this.o.wrap(r.connect !== undefined ? await r.connect() : await connectNats({ name: this.o.clientName, ...r.connection, servers: r.servers! }));
      } catch (error) {
        this.connectFailures++;
        if (this.connectFailures === 1 || this.connectFailures % 20 === 0) this.o.onError(error);
        await this.pause(delay);
        delay = Math.min(delay * 2, maxDelay);
        continue;
      }
      if (this.closed) {
        await t.close().catch(() => {});
        return;
      }
      this.current = t;
      this.connected = true;
      this.offStatus = t.onStatus((s) => {
        if (this.closed) return;
        if (s.type === "disconnect") this.connected = false;
        else if (s.type === "reconnect") {
          this.connected = true;
          this.o.onUp("reconnected");
        } else if (s.type === "closed" && this.current === t) {
          // The client gave up (finite maxReconnectAttempts in the remote's options): start over.
          this.connected = false;
          this.current = undefined;
          this.offStatus?.();
          void this.connectLoop();
        }
      });
      this.o.onUp("connected");
      return;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = resolve;
      this.retryTimer = setTimeout(resolve, ms);
      this.retryTimer.unref();
    });
  }
}
