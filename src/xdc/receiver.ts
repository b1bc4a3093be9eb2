/**
 * The receiving side of cross-DC replication, on every node, over its own DC's NATS:
 *
 * - `${subject}.xdc` (no queue group): batches from remote DC leaders. Every node of the DC gets
 *   the one publish, merges it and acknowledges; the sender keeps the first acknowledgement.
 *   Merged data goes through `ctx.merge` as origin "remote-dc", which is never re-published nor
 *   buffered for sending to another DC: no echo by construction.
 * - `${subject}.xdc.digest` (queue group: one node answers): digest requests of a remote leader's
 *   anti-entropy round, answered with `ctx.answer` like an intra-DC peer would.
 *
 * Bad input (garbage, a batch claiming to come from this DC, a request type that has no business
 * crossing DCs) is rejected, counted and answered with an error; it never throws.
 */
import { ProtocolError, errorMessage } from "../errors.js";
import { preciseWallClockMs } from "../clock.js";
import type { ReplicatorContext } from "../extension/context.js";
import { speaksFor } from "../transport/types.js";
import {
  decodeCrdtDeltaBatch,
  decodeNodeRequest,
  encodeCrdtDeltaBatchAck,
  encodeNodeReply,
  type CrdtDeltaBatch,
  type NodeReply,
} from "../wire/codec.js";

export const batchSubject = (subject: string): string => `${subject}.xdc`;
export const digestSubject = (subject: string): string => `${subject}.xdc.digest`;


export class Receiver {
  private readonly offs: (() => void)[] = [];
  private closed = false;

  constructor(private readonly ctx: ReplicatorContext) {}

  start(): void {
    const { transport, options } = this.ctx;
    this.offs.push(transport.subscribe(batchSubject(options.subject), (m) => this.onBatch(m.data, m.reply, m.signer)));
    this.offs.push(
      transport.subscribe(digestSubject(options.subject), (m) => this.onDigest(m.data, m.reply), {
        queue: digestSubject(options.subject),
      }),
    );
  }

  close(): void {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
  }

  private onBatch(data: Uint8Array, reply: string | undefined, signer: string | undefined): void {
    const { ctx } = this;
    let batch: CrdtDeltaBatch;
    try {
      batch = decodeCrdtDeltaBatch(data);
    } catch (error) {
      ctx.stats.reject("decode");
      this.ack(reply, 0, `undecodable batch: ${errorMessage(error)}`);
      return;
    }
    if (!speaksFor(signer, batch.originNode)) {
      // With signing on: a trusted node sending in another node's name.
      ctx.stats.reject("forged-origin");
      this.ack(reply, batch.batchId, `batch signed by "${signer}" claims to come from "${batch.originNode}"`);
      return;
    }
    if (batch.originDc === ctx.options.dataCenter) {
      // A leader of this very DC sent it here: its `remotes` entry points at its own DC's servers.
      ctx.stats.reject("forged-origin");
      this.ack(reply, batch.batchId, `batch from DC "${batch.originDc}" reached that same DC: check dataCenterReplication.remotes`);
      return;
    }
    try {
      ctx.merge({ entries: batch.deltas, tombstones: batch.tombstones }, "remote-dc", batch.originDc);
    } catch (error) {
      ctx.reportError(error);
      this.ack(reply, batch.batchId, errorMessage(error));
      return;
    }
    ctx.stats.crossdcReceiveCount++;
    // Batches without a reply subject are this DC's leader spreading what it pulled in an
    // anti-entropy round (see flusher.ts): not a measurement of cross-DC lag.
    if (reply !== undefined) ctx.stats.crossdcReplicationLagNs = Math.max(0, Math.round((preciseWallClockMs() - batch.sentAtMs) * 1e6));
    this.ack(reply, batch.batchId, "");
  }

  private onDigest(data: Uint8Array, reply: string | undefined): void {
    if (reply === undefined) return;
    let answer: NodeReply | undefined;
    try {
      const request = decodeNodeRequest(data);
      if (request.type !== "digest" && request.type !== "push") {
        throw new ProtocolError(`a ${request.type} request cannot cross data centers`);
      }
      answer = this.ctx.answer(request);
      if (answer === undefined) return; // rate-limited: silence is the flood's backpressure
    } catch (error) {
      this.ctx.stats.reject("bad-request");
      answer = { type: "error", error: errorMessage(error) };
    }
    if (this.closed) return;
    try {
      this.ctx.transport.respond(reply, encodeNodeReply(answer));
    } catch (error) {
      // e.g. the answer does not fit a message: say so rather than let the remote leader time out.
      this.ctx.reportError(error);
      this.respond(reply, encodeNodeReply({ type: "error", error: `cannot answer: ${errorMessage(error)}` }));
    }
  }

  private ack(reply: string | undefined, batchId: number, error: string): void {
    if (reply === undefined) return;
    this.respond(reply, encodeCrdtDeltaBatchAck({ batchId, ok: error === "", error }));
  }

  private respond(reply: string, bytes: Uint8Array): void {
    if (this.closed) return;
    try {
      this.ctx.transport.respond(reply, bytes);
    } catch (error) {
      this.ctx.reportError(error);
    }
  }
}
