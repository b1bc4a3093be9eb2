/**
 * 3. Bytes on the wire, per update: one node updating one GCounter at 100/s, 1,000/s, 10,000/s
 * and at full speed (awaited calls, one event-loop turn per 1,000), with an empty store and (at
 * 100/s) with a large store. Counted over the window, heartbeats taken out (they are idle traffic,
 * reported with the cluster's idle bytes in the scale scenario):
 * - published: the NATS client's own count of what it published (`stats().outBytes`, which is
 *   what the transport's `bytesOut` reports) — the goal's figure;
 * - socket: every byte the client wrote to its TCP socket (adds `PUB <subject> <n>\r\n…\r\n`
 *   framing, ~22 B per message, and the closing PING).
 * Node id "node-1", keys "counter-N" (9–10 characters): both travel in every delta.
 */
import { Key } from "../../src/index.js";
import type { BenchContext } from "../lib/context.js";
import { INCREMENT, nextTurn, node, nowNs, paced, wireBytes } from "../lib/node.js";
import { median } from "../lib/stats.js";

export interface BytesRow {
  /** Updates per second; 0 = full speed. */
  rate: number;
  /** Keys in the store while measuring. */
  storeKeys: number;
  updates: number;
  /**
   * Bytes the NATS client published per update: its own `stats().outBytes` (= the transport's
   * `bytesOut`: payloads as the client counts them), heartbeats excluded. The goal's figure.
   */
  publishedPerUpdate: number;
  /** Bytes written to the client's TCP socket per update (adds `PUB <subject> <n>` framing and the closing PING), heartbeats excluded. */
  wirePerUpdate: number;
  /** Envelope bytes per update as the replicator counts them (`stats.bytesPublished`). */
  payloadPerUpdate: number;
  /** Updates per published envelope. */
  updatesPerEnvelope: number;
}

export interface BytesResult {
  rows: BytesRow[];
}

interface Window {
  updates: number;
  written: number;
  outPayload: number;
  heartbeat: number;
  heartbeatPayload: number;
  payload: number;
  envelopes: number;
}

/** A realistic node id and key names (`counter-N`): their lengths are part of every delta. */
const NODE_ID = "node-1";

export const bytesWorker = {
  "bytes.rate": async (a: { key: string; rate: number; durationMs: number; batch: number }): Promise<Window> => {
    const { r, tx, nc } = node();
    const k = Key.gcounter(a.key);
    const w0 = wireBytes(nc);
    const hb0 = tx.heartbeatWireBytes;
    const hp0 = tx.heartbeatPayloadBytes;
    const p0 = r.stats.bytesPublished;
    const e0 = r.stats.envelopePublishCount;
    let updates = 0;
    if (a.rate > 0) {
      updates = Math.round((a.rate * a.durationMs) / 1000);
      await paced(a.rate, updates, () => void r.update(k, INCREMENT));
    } else {
      const end = nowNs() + a.durationMs * 1e6;
      while (nowNs() < end) {
        for (let i = 0; i < a.batch; i++) await r.update(k, INCREMENT);
        updates += a.batch;
        await nextTurn();
      }
    }
    await nextTurn();
    await tx.flush();
    return {
      updates,
      written: wireBytes(nc).written - w0.written,
      outPayload: wireBytes(nc).outPayload - w0.outPayload,
      heartbeat: tx.heartbeatWireBytes - hb0,
      heartbeatPayload: tx.heartbeatPayloadBytes - hp0,
      payload: r.stats.bytesPublished - p0,
      envelopes: r.stats.envelopePublishCount - e0,
    };
  },
};

export async function runBytes(ctx: BenchContext): Promise<BytesResult> {
  const bigStore = ctx.full ? 1_000_000 : 100_000;
  const batch = 1000;
  const plan: { rate: number; ms: number }[] = [
    { rate: 100, ms: ctx.full ? 5000 : 2000 },
    { rate: 1000, ms: ctx.full ? 3000 : 1000 },
    { rate: 10_000, ms: ctx.full ? 3000 : 1000 },
    { rate: 0, ms: ctx.full ? 2000 : 500 },
  ];
  ctx.progress.step("starting nats-server and a worker");
  const server = await ctx.server();
  const [w] = await ctx.workers(["bytes"]);
  await w!.call("node.start", { url: server.url, nodeId: NODE_ID });

  const rows: BytesRow[] = [];
  let key = 0;
  const measure = async (rate: number, ms: number, storeKeys: number): Promise<void> => {
    const runs: Window[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      ctx.progress.step(`${rate === 0 ? "full speed" : `${rate}/s`}, ${storeKeys} keys in store — run ${run + 1}/${ctx.runs}`, ms);
      runs.push(await w!.call<Window>("bytes.rate", { key: `counter-${String(key++).padStart(2, "0")}`, rate, durationMs: ms, batch }));
    }
    const row: BytesRow = {
      rate,
      storeKeys,
      updates: median(runs.map((r) => r.updates)),
      publishedPerUpdate: median(runs.map((r) => (r.outPayload - r.heartbeatPayload) / r.updates)),
      wirePerUpdate: median(runs.map((r) => (r.written - r.heartbeat) / r.updates)),
      payloadPerUpdate: median(runs.map((r) => r.payload / r.updates)),
      updatesPerEnvelope: median(runs.map((r) => r.updates / Math.max(1, r.envelopes))),
    };
    rows.push(row);
    ctx.progress.note(
      `${rate === 0 ? "full speed" : `${rate}/s`} (${storeKeys} keys): ${row.publishedPerUpdate.toFixed(1)} B published per update (${row.wirePerUpdate.toFixed(1)} B on the socket), ${row.updatesPerEnvelope.toFixed(1)} updates/envelope`,
    );
  };
  for (const p of plan) await measure(p.rate, p.ms, 0);
  ctx.progress.step(`loading ${bigStore} keys`);
  await w!.call("node.load", { prefix: "store-", count: bigStore });
  await measure(100, plan[0]!.ms, bigStore);
  await w!.call("node.stop");
  return { rows };
}
