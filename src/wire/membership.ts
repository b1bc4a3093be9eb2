/** Codecs of membership: heartbeats, and the hello a starting node sends the members. */
import { DecodeError } from "../errors.js";
import { bounded, decodeWith, finite, needFinite, needString, needU32, needU64, required } from "./convert.js";
import { encodeMessage, type Int64, u64 } from "./pb.js";
import { type PbDeparture, type PbHeartbeat, T } from "./pb-shapes.js";
import { type Departure, type Heartbeat, type HelloMember, MAX_NODE_ID, MAX_ROLES, MAX_TEXT, MAX_VOTES, type MemberHello, type MemberHelloReply } from "./shapes.js";

// ================================================================== Heartbeat

export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  const w = "Heartbeat";
  return encodeMessage(T.Heartbeat, {
    node: needString(h.node, `${w}.node`),
    dataCenter: h.dataCenter ?? "",
    roles: h.roles ?? [],
    startedAtMs: needU64(h.startedAtMs, `${w}.startedAtMs`),
    incarnation: needU64(h.incarnation, `${w}.incarnation`),
    lastSequence: needU64(h.lastSequence, `${w}.lastSequence`),
    leaving: h.leaving === true,
    sentAtMs: needFinite(h.sentAtMs ?? 0, `${w}.sentAtMs`),
    silent: h.silent ?? [],
    vouched: h.vouched ?? [],
    removed: h.removed ?? [],
    left: encodeDepartures(h.left, w),
    compactDeltas: h.compactDeltas === true,
    readsMarkers: h.readsMarkers === true,
    unpruned: h.unpruned ?? [],
  });
}

function encodeDepartures(left: readonly Departure[] | undefined, w: string): { node: string; incarnation: number }[] {
  return (left ?? []).map((d) => ({ node: needString(d.node, `${w}.left.node`), incarnation: needU64(d.incarnation, `${w}.left.incarnation`) }));
}

function votesFromPb(ids: string[], what: string): string[] {
  if (ids.length > MAX_VOTES) throw new DecodeError(`${what}: ${ids.length} node ids, at most ${MAX_VOTES}`);
  for (const id of ids) memberId(id, what);
  return ids.slice();
}

function departuresFromPb(left: PbDeparture[], what: string): Departure[] {
  if (left.length > MAX_VOTES) throw new DecodeError(`${what}: ${left.length} departures, at most ${MAX_VOTES}`);
  return left.map((d) => ({ node: memberId(d.node, `${what}.node`), incarnation: u64(d.incarnation, `${what}.incarnation`) }));
}

/** Member ids become parts of NATS subjects (`<subject>.node.<id>`): only what `nodeId` options allow. */
const MEMBER_ID = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_NODE_ID}}$`);

function memberId(id: string, what: string): string {
  if (!MEMBER_ID.test(id)) throw new DecodeError(`${what}: ${JSON.stringify(id.slice(0, 40))} is no node id (1-${MAX_NODE_ID} letters, digits, '-' or '_')`);
  return id;
}

/** A data center (empty: unnamed) and roles as options allow them (see MAX_NODE_ID). */
function placeFromPb(dataCenter: string, roles: string[], what: string): { dataCenter: string; roles: string[] } {
  bounded(dataCenter, MAX_NODE_ID, `${what}.dataCenter`);
  if (roles.length > MAX_ROLES) throw new DecodeError(`${what}.roles: ${roles.length} roles, at most ${MAX_ROLES}`);
  for (const r of roles) bounded(r, MAX_NODE_ID, `${what}.roles`);
  return { dataCenter, roles: roles.slice() };
}

function heartbeatFromPb(m: PbHeartbeat, what: string): Heartbeat {
  return {
    node: memberId(m.node, `${what}.node`),
    ...placeFromPb(m.dataCenter, m.roles, what),
    startedAtMs: u64(m.startedAtMs, `${what}.startedAtMs`),
    incarnation: u64(m.incarnation, `${what}.incarnation`),
    lastSequence: u64(m.lastSequence, `${what}.lastSequence`),
    leaving: m.leaving,
    silent: votesFromPb(m.silent, `${what}.silent`),
    vouched: votesFromPb(m.vouched, `${what}.vouched`),
    removed: votesFromPb(m.removed, `${what}.removed`),
    left: departuresFromPb(m.left, `${what}.left`),
    sentAtMs: finite(m.sentAtMs, `${what}.sentAtMs`),
    compactDeltas: m.compactDeltas,
    readsMarkers: m.readsMarkers,
    unpruned: votesFromPb(m.unpruned, `${what}.unpruned`),
  };
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  return decodeWith(T.Heartbeat, bytes, heartbeatFromPb);
}

// ================================================================== MemberHello

export function encodeMemberHello(h: MemberHello): Uint8Array {
  const w = "MemberHello";
  return encodeMessage(T.MemberHello, { node: needString(h.node, `${w}.node`), replyTo: needString(h.replyTo, `${w}.replyTo`) });
}

export function decodeMemberHello(bytes: Uint8Array): MemberHello {
  return decodeWith(T.MemberHello, bytes, (m: { node: string; replyTo: string }, what) => ({
    node: memberId(m.node, `${what}.node`),
    replyTo: bounded(required(m.replyTo, `${what}.replyTo`), MAX_TEXT, `${what}.replyTo`),
  }));
}

export function encodeMemberHelloReply(r: MemberHelloReply): Uint8Array {
  const w = "MemberHelloReply";
  return encodeMessage(T.MemberHelloReply, {
    from: needString(r.from, `${w}.from`),
    incarnation: needU64(r.incarnation, `${w}.incarnation`),
    youngestStartedAtMs: needU64(r.youngestStartedAtMs, `${w}.youngestStartedAtMs`),
    members: needU32(r.members, `${w}.members`),
    counted: (r.counted ?? []).map((m, i) => ({ node: needString(m.node, `${w}.counted[${i}].node`), dataCenter: m.dataCenter ?? "", roles: m.roles ?? [] })),
    left: encodeDepartures(r.left, w),
  });
}

export function decodeMemberHelloReply(bytes: Uint8Array): MemberHelloReply {
  type Pb = { from: string; incarnation: Int64; youngestStartedAtMs: Int64; members: number; counted: HelloMember[]; left: PbDeparture[] };
  return decodeWith(T.MemberHelloReply, bytes, (m: Pb, what) => {
    if (m.counted.length > MAX_VOTES) throw new DecodeError(`${what}.counted: ${m.counted.length} members, at most ${MAX_VOTES}`);
    votesFromPb(m.counted.map((c) => c.node), `${what}.counted`);
    return {
      from: memberId(m.from, `${what}.from`),
      incarnation: u64(m.incarnation, `${what}.incarnation`),
      youngestStartedAtMs: u64(m.youngestStartedAtMs, `${what}.youngestStartedAtMs`),
      members: m.members,
      counted: m.counted.map((c, i) => ({ node: c.node, ...placeFromPb(c.dataCenter, c.roles, `${what}.counted[${i}]`) })),
      left: departuresFromPb(m.left, `${what}.left`),
    };
  });
}
