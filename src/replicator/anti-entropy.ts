/**
 * Digest anti-entropy: the shell around src/cluster/digest-round.ts.
 *
 * The digest tree hashes every key's *content* (values and tombstones), so replicas that hold the
 * same state agree whatever path got them there; it is refreshed lazily from the keys changed
 * since the last round. A round costs two round trips plus the transfer of the differing keys,
 * which go both ways: we push what the peer lacks or has differently, and pull the reverse
 * (digest level 2 = "send me these keys"). Rounds are serialized: a joiner syncing with several
 * peers pulls the store once, and the later rounds find nothing to do.
 */
import { DigestTree } from "../cluster/digest-tree.js";
import {
  answerDigest,
  concatDiffs,
  groupsPerRequest,
  nextStep,
  openRound,
  splitLeafRequest,
  type DigestRequest as RoundRequest,
  type KeyDiff,
} from "../cluster/digest-round.js";
import { keyEntryHash } from "../cluster/hashing.js";
import { encodeValue } from "../wire/codec.js";
import { contentHash, tombstoneHash } from "../wire/hash.js";
import type { CrdtDelta, DigestReply, DigestRequest, FullState, NodeReply, NodeRequest } from "../wire/messages.js";
import type { RepairCause, ReplicatorStats } from "./stats.js";
import type { Store } from "./store.js";

/** Level of a digest request that asks for the full states of `keys`. */
export const FETCH_LEVEL = 2;

export interface AntiEntropyOptions {
  nodeId: string;
  store: Store;
  stats: ReplicatorStats;
  maxPayload: number;
  /** Send a request to a peer's node subject. */
  ask: (peer: string, request: NodeRequest) => Promise<NodeReply>;
  /** Merge full states received from a peer. */
  merge: (state: FullState) => void;
  /**
   * Send one value too large for any request/reply message to `peer` by another path (chunks on
   * its direct subject). Without it such a value cannot be transferred and is reported to onError.
   */
  sendLarge?: (peer: string, entry: CrdtDelta) => void;
  onError?: (error: unknown) => void;
}

export class AntiEntropy {
  private readonly tree = new DigestTree();
  private readonly dirty = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: AntiEntropyOptions) {
    o.store.onChange((key) => this.dirty.add(key));
    // A store restored from a snapshot is filled before we exist: hash what it already holds.
    for (const key of o.store.keys()) this.dirty.add(key);
    for (const t of o.store.tombstones()) this.dirty.add(t.key);
  }

  /** Run one round with `peer` after the rounds already queued. Never rejects; true when it completed. */
  sync(peer: string, cause: RepairCause): Promise<boolean> {
    return this.run((request) => this.o.ask(peer, request), cause, peer);
  }

  /**
   * Run one round through any request channel (cross-DC rounds go to a remote DC's subject).
   * Queued behind the rounds already running; never rejects, returns whether the round completed.
   */
  syncVia(ask: (request: NodeRequest) => Promise<NodeReply>, cause: RepairCause): Promise<boolean> {
    return this.run(ask, cause, undefined);
  }

  private run(ask: (request: NodeRequest) => Promise<NodeReply>, cause: RepairCause, peer: string | undefined): Promise<boolean> {
    const run = this.queue.then(() => this.round(ask, cause, peer));
    const outcome = run.then(
      () => true,
      (error: unknown) => {
        this.o.onError?.(error);
        return false;
      },
    );
    this.queue = outcome.then(() => undefined);
    return outcome;
  }

  /**
   * Answer a peer's digest request. `direct`: the requester (`request.from`) can receive values too
   * large for the reply on its direct subject (true for requests over this DC's bus).
   */
  answer(request: DigestRequest, direct = false): DigestReply {
    if (request.level === FETCH_LEVEL) {
      const keys = request.keys.map((k) => k.key);
      const { state, taken } = this.collect(keys, this.budget(), 0, direct ? request.from : undefined);
      // What did not fit is named in `wanted`: the requester asks again for it.
      return { differing: [], keys: [], wanted: keys.slice(taken), state };
    }
    this.refresh();
    const reply = answerDigest(this.tree, { level: request.level as 0 | 1, buckets: request.buckets });
    return { differing: [...reply.differing], keys: [...reply.keys], wanted: [] };
  }

  /**
   * Full states (and tombstones) of a prefix of `keys` whose encoding fits `budget` bytes (at least
   * one key, so progress is certain); `taken` says how many keys were consumed. A value too large
   * for any message goes to `largeTo` through `sendLarge` instead (it counts as taken).
   */
  collect(keys: readonly string[], budget = Infinity, start = 0, largeTo?: string): { state: FullState; taken: number } {
    const state: FullState = { entries: [], tombstones: [] };
    let size = 0;
    let taken = 0;
    for (let i = start; i < keys.length; i++) {
      const key = keys[i]!;
      const v = this.o.store.get(key);
      const t = v === undefined ? this.o.store.tombstone(key) : undefined;
      const data = v !== undefined ? encodeValue(v.value) : undefined;
      const bytes = key.length * 3 + 48 + (data?.length ?? 0);
      if (v !== undefined && bytes > this.o.maxPayload) {
        taken++;
        this.sendLarge(largeTo, { key, kind: v.kind, originNode: this.o.nodeId, value: v.value, data: data! });
        continue;
      }
      if (taken > 0 && size + bytes > budget) break;
      taken++;
      size += bytes;
      if (v !== undefined) state.entries.push({ key, kind: v.kind, originNode: this.o.nodeId, value: v.value, data: data! });
      else if (t !== undefined) state.tombstones.push({ ...t });
    }
    return { state, taken };
  }

  private sendLarge(peer: string | undefined, entry: CrdtDelta): void {
    const bytes = entry.data?.length ?? 0;
    if (peer === undefined || this.o.sendLarge === undefined) {
      this.o.onError?.(new Error(`anti-entropy: key "${entry.key}" (${bytes} bytes) does not fit a message and this channel has no direct path`));
      return;
    }
    this.o.stats.largeValueSends++;
    this.o.sendLarge(peer, entry);
  }

  private budget(): number {
    return Math.floor(this.o.maxPayload * 0.8);
  }

  private async round(ask: (request: NodeRequest) => Promise<NodeReply>, cause: RepairCause, peer: string | undefined): Promise<void> {
    this.refresh();
    const perRequest = groupsPerRequest(this.tree.size, this.o.maxPayload);
    const first = openRound(this.tree);
    let step = nextStep(this.tree, first, await this.digest(ask, first), { maxGroupsPerRequest: perRequest });
    const diffs: KeyDiff[] = [];
    if (step.kind === "diff") diffs.push(step.diff);
    else {
      const pending = [...step.requests];
      while (pending.length > 0) {
        const request = pending.shift()!;
        let reply: DigestReply;
        try {
          reply = await this.digest(ask, request);
        } catch (error) {
          const halves = splitLeafRequest(request);
          if (halves.length < 2) throw error;
          pending.unshift(...halves); // the reply did not fit: ask for half the groups at a time
          continue;
        }
        const next = nextStep(this.tree, request, reply);
        if (next.kind === "diff") diffs.push(next.diff);
      }
    }
    const diff = concatDiffs(diffs);
    await this.push(ask, [...diff.theyLack, ...diff.differ], peer);
    await this.pull(ask, [...diff.iLack, ...diff.differ]);
    this.o.stats.antiEntropyCount++;
    this.o.stats.repair(cause);
  }

  private async digest(ask: (request: NodeRequest) => Promise<NodeReply>, request: RoundRequest): Promise<DigestReply> {
    const reply = await ask({
      type: "digest",
      from: this.o.nodeId,
      level: request.level,
      buckets: [...request.buckets],
      keys: [],
      bucket: 0,
    });
    if (reply.type !== "digest") throw new Error(`a digest request was answered with ${reply.type}`);
    return reply;
  }

  /** Send our states of `keys` in pages that fit a message. */
  private async push(ask: (request: NodeRequest) => Promise<NodeReply>, keys: string[], peer: string | undefined): Promise<void> {
    for (let i = 0; i < keys.length; ) {
      const { state, taken } = this.collect(keys, this.budget(), i, peer);
      i += taken;
      if (state.entries.length > 0 || state.tombstones.length > 0) await ask({ type: "push", ...state });
    }
  }

  /** Fetch the peer's states of `keys`; it answers what fits and names the rest to ask again. */
  private async pull(ask: (request: NodeRequest) => Promise<NodeReply>, keys: string[]): Promise<void> {
    const perRequest = Math.max(1, Math.floor(this.budget() / 64));
    // The unanswered keys of a page go first into the next one; `next` walks the rest (no copying
    // of the remaining list per page: a joiner pulls a million keys this way).
    let carried: string[] = [];
    let next = 0;
    while (carried.length > 0 || next < keys.length) {
      const fresh = Math.max(0, perRequest - carried.length);
      const page = carried.concat(keys.slice(next, next + fresh));
      next += fresh;
      const reply = await ask({
        type: "digest",
        from: this.o.nodeId,
        level: FETCH_LEVEL,
        buckets: [],
        keys: page.map((key) => ({ key, hash: 0n })),
        bucket: 0,
      });
      if (reply.type !== "digest" || reply.state === undefined) return;
      this.o.merge(reply.state);
      const asked = new Set(page);
      carried = reply.wanted.filter((k) => asked.has(k));
      if (carried.length >= page.length) return; // no progress: leave it to the next round
    }
  }

  /** Rehash the keys changed since the last round. */
  private refresh(): void {
    for (const key of this.dirty) {
      const v = this.o.store.get(key);
      if (v !== undefined) {
        this.tree.set(key, keyEntryHash(key, contentHash(v.value)));
        continue;
      }
      const t = this.o.store.tombstone(key);
      if (t !== undefined) {
        this.tree.set(key, keyEntryHash(key, tombstoneHash({ key, kind: t.kind, deletedAtMs: t.deletedAtMs, originNode: t.originNode })));
      } else this.tree.delete(key);
    }
    this.dirty.clear();
  }
}

