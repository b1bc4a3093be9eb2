/**
 * Replay and freshness of opened frames: a frame is accepted once, and only while its send time is
 * within `windowMs` of this node's clock. A frame stamped at t is refused after t + windowMs, so
 * its nonce needs remembering only until then: nonces live in three generations that turn every
 * `windowMs` (each is kept 2–3 windows), so remembering and forgetting are O(1) per frame and the
 * memory is bounded by the message rate × 3 windows.
 */
import type { FrameRejection } from "./frame.js";

export class ReplayGuard {
  private generations: Set<string>[] = [new Set(), new Set(), new Set()];
  private turnedAtMs: number;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {
    this.turnedAtMs = now();
  }

  /** Accept (and remember) the frame of `signer` with `nonce` sent at `sentAtMs`, or say why not. */
  admit(signer: string | undefined, nonce: Uint8Array, sentAtMs: number): FrameRejection | undefined {
    const now = this.now();
    if (Math.abs(now - sentAtMs) > this.windowMs) return "expired";
    this.turn(now);
    const id = `${signer ?? ""} ${Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString("latin1")}`;
    for (const g of this.generations) if (g.has(id)) return "replayed";
    this.generations[0]!.add(id);
    return undefined;
  }

  /** Nonces remembered now. */
  get size(): number {
    return this.generations.reduce((n, g) => n + g.size, 0);
  }

  private turn(now: number): void {
    if (now - this.turnedAtMs < this.windowMs) return;
    // More than three windows since the last turn: everything remembered is past its time.
    const turns = Math.min(3, Math.floor((now - this.turnedAtMs) / this.windowMs));
    for (let i = 0; i < turns; i++) this.generations = [new Set(), this.generations[0]!, this.generations[1]!];
    this.turnedAtMs = now;
  }
}
