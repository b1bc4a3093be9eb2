/**
 * A bus around another bus that changes some of its calls (signing, counting, muting): every call
 * it does not override goes to the inner bus unchanged, so a wrapper states only what it changes.
 */
import type { MessageHandler, SubscribeOptions, Transport, TransportStatus } from "./types.js";

export abstract class TransportDecorator implements Transport {
  constructor(protected readonly inner: Transport) {}

  get maxPayload(): number {
    return this.inner.maxPayload;
  }

  get bytesOut(): number {
    return this.inner.bytesOut;
  }

  publish(subject: string, data: Uint8Array): void {
    this.inner.publish(subject, data);
  }

  respond(reply: string, data: Uint8Array): void {
    this.inner.respond(reply, data);
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): () => void {
    return this.inner.subscribe(subject, handler, options);
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return this.inner.request(subject, data, timeoutMs);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    return this.inner.onStatus(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
