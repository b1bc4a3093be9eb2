/**
 * The bytes of a topic message on the bus: a version byte (1), the publishing node's id (a length
 * byte, then UTF-8), then the payload as the topic's codec made it. Pure, for tests without a bus.
 */
import { DecodeError } from "../errors.js";

const VERSION = 1;
/** Node ids are 1-128 letters, digits, `-` or `_` (replicator options). */
const NODE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

export function encodeTopicFrame(origin: string, payload: Uint8Array): Uint8Array {
  const id = utf8.encode(origin);
  const frame = new Uint8Array(2 + id.length + payload.length);
  frame[0] = VERSION;
  frame[1] = id.length;
  frame.set(id, 2);
  frame.set(payload, 2 + id.length);
  return frame;
}

/** The origin and payload of a frame; DecodeError for anything else. */
export function decodeTopicFrame(frame: Uint8Array): { origin: string; payload: Uint8Array } {
  if (frame.length < 3 || frame[0] !== VERSION) throw new DecodeError(`not a topic message (version ${frame[0]}, ${frame.length} bytes)`);
  const end = 2 + frame[1]!;
  if (end > frame.length) throw new DecodeError("topic message: the node id runs past the end");
  let origin: string;
  try {
    origin = fromUtf8.decode(frame.subarray(2, end));
  } catch {
    throw new DecodeError("topic message: the node id is not UTF-8");
  }
  if (!NODE_ID.test(origin)) throw new DecodeError(`topic message: ${JSON.stringify(origin.slice(0, 40))} is no node id`);
  return { origin, payload: frame.subarray(end) };
}
