/** A stand-in for the protobuf heartbeat codec of src/wire: JSON, strict about shape. */
import type { HeartbeatInfo } from "../../src/cluster/heartbeats.js";

export function encodeHeartbeat(hb: HeartbeatInfo): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(hb));
}

export function decodeHeartbeat(bytes: Uint8Array): HeartbeatInfo {
  const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as HeartbeatInfo;
  if (typeof v !== "object" || v === null || typeof v.node !== "string") throw new Error("not a heartbeat");
  return v;
}
