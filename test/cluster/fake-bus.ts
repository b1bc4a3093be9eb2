/**
 * A minimal Transport for the heartbeater tests: asynchronous delivery (like NATS, handlers never
 * run inside publish), exact subjects, status events on demand, and a switch to make publish fail.
 * Kept here rather than using src/transport/memory.ts so these tests depend only on the contract.
 */
import type { MessageHandler, Transport, TransportStatus } from "../../src/transport/types.js";

export class FakeBus {
  private readonly subs = new Set<{ subject: string; handler: MessageHandler }>();

  connect(): FakeTransport {
    return new FakeTransport(this);
  }

  /** Deliver to every subscriber on a later microtask. */
  send(subject: string, data: Uint8Array): void {
    for (const sub of [...this.subs]) {
      if (sub.subject === subject) queueMicrotask(() => this.subs.has(sub) && sub.handler({ subject, data }));
    }
  }

  add(sub: { subject: string; handler: MessageHandler }): () => void {
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }
}

export class FakeTransport implements Transport {
  readonly maxPayload = 1024 * 1024;
  bytesOut = 0;
  published = 0;
  failPublish = false;
  private readonly listeners = new Set<(s: TransportStatus) => void>();

  constructor(private readonly bus: FakeBus) {}

  publish(subject: string, data: Uint8Array): void {
    if (this.failPublish) throw new Error("fake transport: publish failed");
    this.published++;
    this.bytesOut += data.length;
    this.bus.send(subject, data);
  }

  respond(): void {}

  subscribe(subject: string, handler: MessageHandler): () => void {
    return this.bus.add({ subject, handler });
  }

  request(): Promise<Uint8Array> {
    return Promise.reject(new Error("fake transport: no request/reply"));
  }

  async flush(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // queued microtasks have run by then
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emitStatus(status: TransportStatus): void {
    for (const l of [...this.listeners]) l(status);
  }

  async close(): Promise<void> {}
}
