/**
 * What a starting node does on the bus before it subscribes to anything or publishes a heartbeat:
 *
 * 1. Is its node id taken? It asks its own request subject (`<subject>.node.<id>`), which only a
 *    live process holding the id listens on. An answer fails the start with a ConfigError naming
 *    that process; "no responders" means the id is free; a timeout (a holder that hangs, or a
 *    killed one the server has not noticed yet) is counted and the start goes on — the heartbeats
 *    of two live holders are then reported at run time (see `duplicateReporter` in parts.ts).
 * 2. Which incarnation and start time to take, and whom to count in N? It asks every member
 *    (`<subject>.members.hello`) for the newest incarnation they know for its id, the youngest start
 *    among their members and the membership they count, takes an incarnation above both (see
 *    cluster/incarnations.ts) and counts that membership in N from its first moment (so it cannot
 *    acknowledge a majority write alone before it hears them). Alone on the bus, NATS answers "no
 *    responders" at once, so a lone start is not slowed.
 *
 * The answering side (`answerHello`, `identify`) is request-server.ts, in every replicator.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Clock, TimerHandle } from "../clock.js";
import { ConfigError } from "../errors.js";
import { MAX_REMEMBERED_LEAVES, type Departure, type ExpectedMember } from "../cluster/membership.js";
import { RequestFailedError, speaksFor, type Transport } from "../transport/types.js";
import {
  decodeMemberHelloReply,
  decodeNodeReply,
  encodeMemberHello,
  encodeNodeRequest,
  type Identity,
  type MemberHelloReply,
} from "../wire/codec.js";

/** The highest incarnation taken or renewed to in this process: a restart in the same process must go above it. */
let lastIncarnation = 0;

export function lastIncarnationInProcess(): number {
  return lastIncarnation;
}

/** No later start in this process takes an incarnation at or below `incarnation` (a start's, or a renewed writer id's). */
export function reserveIncarnation(incarnation: number): void {
  lastIncarnation = Math.max(lastIncarnation, incarnation);
}

/** How long a holder of the node id, or the first member, has to answer. */
export const IDENTIFY_TIMEOUT_MS = 1_000;
/** After the first member's answer, how long the others have (unless all announced ones came sooner). */
export const HELLO_GATHER_MS = 500;

export const helloSubject = (subject: string): string => `${subject}.members.hello`;

/** Where the members answer a starting node's hello: a subject of its own, under the hello subject. */
export const helloReplyTo = (subject: string, nodeId: string): string => `${helloSubject(subject)}.${nodeId}.${randomUUID().replaceAll("-", "")}`;

/**
 * Whether `replyTo` is a subject `helloReplyTo` could have made for `nodeId`: members publish their
 * answers there, so a forged hello must not make them all publish to a subject of its choosing.
 */
export function isHelloReplyTo(subject: string, nodeId: string, replyTo: string): boolean {
  const prefix = `${helloSubject(subject)}.${nodeId}.`;
  return replyTo.startsWith(prefix) && /^[A-Za-z0-9]{1,64}$/.test(replyTo.slice(prefix.length));
}

export interface ClaimOptions {
  transport: Transport;
  subject: string;
  nodeId: string;
  /** The node's own request subject. */
  nodeSubject: string;
  /** Timer of the gathering wait. */
  clock: Clock;
}

export interface Learned {
  /** The newest incarnation a member knows for this node id; 0: none. */
  incarnation: number;
  /** The youngest start among the members they know; 0: none. */
  youngestStartedAtMs: number;
  /** The members the answering members count (union), this node id not. */
  members: ExpectedMember[];
  /** The leaves the answering members remember (union), this node id's not. */
  left: Departure[];
  /** Whether a holder of the id might exist but did not answer in time. */
  holderCheckTimedOut: boolean;
}

/** This process, as a holder of a node id describes itself. */
export function processIdentity(incarnation: number, startedAtMs: number): Identity {
  return { incarnation, startedAtMs, host: hostname(), pid: process.pid };
}

/** Both questions at once. Throws ConfigError when another live process holds the node id. */
export async function claimIdentity(o: ClaimOptions): Promise<Learned> {
  const [timedOut, learned] = await Promise.all([checkHolder(o), askMembers(o)]);
  return { ...learned, holderCheckTimedOut: timedOut };
}

/** Resolves true when the check timed out; throws ConfigError when a holder answered. */
async function checkHolder(o: ClaimOptions): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    const from = `${hostname()}:${process.pid}`;
    bytes = await o.transport.request(o.nodeSubject, encodeNodeRequest({ type: "identify", from }), IDENTIFY_TIMEOUT_MS);
  } catch (error) {
    if (error instanceof RequestFailedError && error.reason === "no-responders") return false;
    if (error instanceof RequestFailedError && error.reason === "timeout") return true;
    throw error;
  }
  throw new ConfigError(`nodeId "${o.nodeId}" is in use by another live process: ${describeHolder(bytes)}; give this process another nodeId, or stop the other one first`);
}

function describeHolder(bytes: Uint8Array): string {
  try {
    const reply = decodeNodeReply(bytes);
    if (reply.type === "identity") {
      return `pid ${reply.pid} on host ${reply.host || "?"}, started ${new Date(reply.startedAtMs).toISOString()} (incarnation ${reply.incarnation})`;
    }
  } catch {
    // fall through: someone answered, without saying who
  }
  return "a process that did not say which (an older version?)";
}

async function askMembers(o: ClaimOptions): Promise<Omit<Learned, "holderCheckTimedOut">> {
  const learned = { incarnation: 0, youngestStartedAtMs: 0, members: [] as ExpectedMember[], left: [] as Departure[] };
  const left = new Map<string, number>();
  const members = new Map<string, ExpectedMember>();
  const heard = new Set<string>();
  let expected = 0;
  let allHeard: (() => void) | undefined;
  const take = (bytes: Uint8Array, signer?: string): void => {
    let r: MemberHelloReply;
    try {
      r = decodeMemberHelloReply(bytes);
    } catch {
      return; // garbage on our private subject: ignore it
    }
    if (!speaksFor(signer, r.from)) return; // with signing on: an answer in another member's name
    heard.add(r.from);
    expected = Math.max(expected, r.members);
    learned.incarnation = Math.max(learned.incarnation, r.incarnation);
    learned.youngestStartedAtMs = Math.max(learned.youngestStartedAtMs, r.youngestStartedAtMs);
    for (const m of r.counted ?? []) if (m.node !== o.nodeId && !members.has(m.node)) members.set(m.node, m);
    learned.members = [...members.values()];
    for (const d of r.left ?? []) if (d.node !== o.nodeId && (left.get(d.node) ?? -1) < d.incarnation) left.set(d.node, d.incarnation);
    learned.left = [...left].slice(0, MAX_REMEMBERED_LEAVES).map(([node, incarnation]) => ({ node, incarnation }));
    if (heard.size >= expected) allHeard?.();
  };
  // Every member answers here; the request's own reply only ends the wait for the first.
  const replyTo = helloReplyTo(o.subject, o.nodeId);
  const off = o.transport.subscribe(replyTo, (m) => take(m.data, m.signer));
  try {
    try {
      take(await o.transport.request(helloSubject(o.subject), encodeMemberHello({ node: o.nodeId, replyTo }), IDENTIFY_TIMEOUT_MS));
    } catch (error) {
      if (error instanceof RequestFailedError && error.reason !== "closed") return learned; // alone, or nobody answers
      throw error;
    }
    if (heard.size < expected) {
      let timer: TimerHandle | undefined;
      await new Promise<void>((resolve) => {
        allHeard = resolve;
        timer = o.clock.setTimeout(resolve, HELLO_GATHER_MS);
      });
      o.clock.clear(timer);
    }
    return learned;
  } finally {
    off();
  }
}

/**
 * The id counter slots and dots are written under. A node that lost its state (no snapshot, or a
 * crash after the last snapshot) must not reuse its old id: peers hold slots newer than what it
 * has, and its next increments would be hidden behind them. So each such start writes under a
 * fresh id; a clean close lets the next run reuse it (see durable/).
 */
export function writerIdFor(nodeId: string, incarnation: number): string {
  return `${nodeId}~${incarnation.toString(36)}`;
}
