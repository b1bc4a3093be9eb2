/**
 * Digest anti-entropy: the shell around src/cluster/digest-round.ts.
 *
 * The digest tree (store-digest.ts) hashes every key's *content* (values and tombstones), so
 * replicas that hold the same state agree whatever path got them there. A round costs two round trips plus the transfer of the differing keys,
 * which go both ways: we push what the peer lacks or has differently, and pull the reverse
 * (digest level 2 = "send me these keys"). Rounds are serialized: a joiner syncing with several
 * peers pulls the store once, and the later rounds find nothing to do.
 *
 * Bulk pull (digest level 3): a node that holds (next to) nothing in the groups that differ does
 * not walk the leaves and then name a million keys: it asks for whole leaf ranges of those groups
 * ("everything from leaf L, after key K"), pages that fit a message, several streams at a time
 * (written and read without an object per key: src/wire/range-pages.ts, range-page-reader.ts), from the peer and the
 * other members that started before this node (each answers a share of the pages), turns peers' digest
 * rounds away meanwhile (`catchingUp`), and seeds its digest tree with the peer's entry hashes
 * for the values it took as they are (after the last page, out of the pull's way; peers' rounds
 * are turned away until they are in). An
 * ordinary round follows (it pushes what only we hold and picks up what the pages missed). A peer
 * that does not know level 3 answers with an error and the ordinary round does everything.
 */
import type { Clock } from "../clock.js";
import { GROUPS, LEAVES, LEAVES_PER_GROUP, LeafList, NO_PLACE, groupOf, leafOf } from "../cluster/digest-tree.js";
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
import type { Crdt } from "../crdt/types.js";
import { InvalidArgumentError, ProtocolError } from "../errors.js";
import {
  type CrdtDelta,
  decodeNodeReply,
  type DigestReply,
  type DigestRequest,
  encodeValue,
  RangePageWriter,
  type FullState,
  type KeyHash,
  type NodeReply,
  type NodeRequest,
  type PageColumns,
} from "../wire/codec.js";
import type { RepairCause, ReplicatorStats } from "../extension/stats.js";
import type { DigestHashes } from "../extension/context.js";
import type { Store, StoredValue, TombstoneInfo } from "./store.js";
import { DIGEST_HASH_VERSION, StoreDigest, type RestoredDigest, type SeedTake } from "./store-digest.js";

/** Level of a digest request that asks for the full states of `keys`. */
export const FETCH_LEVEL = 2;
/**
 * Level of a digest request for whole leaf ranges (bulk pull): `buckets[].bucket` are the groups
 * wanted, `bucket` the leaf to start at and `keys[0].key`, if any, the last key already received
 * in that leaf. The reply's `state` holds the values and tombstones, `keys` every key sent (in
 * order, with the replier's entry hash, 0 when it has none yet) and `differing` the leaf to go on
 * from ([] when the range is done).
 *
 * With `storeOrder` the replier lists the groups' keys in its own order instead (its digest tree's
 * slots: about the order it made them, so it reads its memory in turn), from `resumeAt` on, and
 * the reply's `resumeAt` says where the next page goes on (absent: done), out of `positions`. A
 * position means something only to the replier that gave it, so such a stream keeps to one
 * replier. An older replier ignores `storeOrder` and answers leaf by leaf, from `bucket`.
 */
export const RANGE_LEVEL = 3;

/** Bulk-pull the differing groups when we hold fewer than this many keys per differing group. */
const BULK_KEYS_PER_GROUP = 8;
/** A bulk pull makes room for at most this many times the keys it holds (see `bulkReservation`). */
export const EXPECT_FACTOR = 32;
/** Concurrent range streams of a bulk pull (the peer encodes a page while we merge another). */
const RANGE_STREAMS = 3;
/** Entries a store-order page lists at a time (their values are read together, see addLeaf). */
const SLOT_RUN = 256;
/**
 * A range stream's first page holds at most this much, each next one twice the last, up to the
 * reply budget: the joiner idles until a page comes, and a full one takes the peer tens of ms to
 * build; small ones first start the merging at once, and the peer builds the larger ones meanwhile.
 * Also the least a requester may ask for (a smaller page would cost more per key to ask and build).
 */
export const FIRST_PAGE_BYTES = 16 * 1024;
/**
 * When a group that differs holds a large set of ours, the round looks again this much later
 * before going on: a large key that changes often is otherwise caught with a delta in flight by
 * many rounds, and each such round would ship (and re-encode) all of it. The same when the peer
 * says it is still hashing a key of a differing group (a large set's first digest takes several
 * slices on a loaded machine): its hash there is stale, the difference perhaps none.
 */
const RECHECK_DELAY_MS = 100;
/** At most this many looks again per round (a peer still hashing, or lying about it, holds a round up ≤ 2 s). */
const RECHECKS_MAX = 20;

/** A key as this node holds it: a value (with its encoding) or a tombstone. */
interface Holding {
  key: string;
  value?: StoredValue;
  data?: Uint8Array;
  tombstone?: TombstoneInfo;
}

export interface AntiEntropyOptions {
  nodeId: string;
  store: Store;
  stats: ReplicatorStats;
  maxPayload: number;
  /** Send a request to a peer's node subject. */
  ask: (peer: string, request: NodeRequest) => Promise<NodeReply>;
  /** Merge full states received from a peer of this DC. */
  merge: (state: FullState) => void;
  /**
   * Other peers of this DC that may answer pages of a bulk pull with `peer` (see `spread`): members
   * that started before this node, so hold what it lacks. None: the round's peer answers them all.
   */
  bulkHelpers?: (peer: string) => string[];
  /**
   * Send one value too large for any request/reply message to `peer` by another path (chunks on
   * its direct subject). Without it such a value cannot be transferred and is reported to onError.
   */
  sendLarge?: (peer: string, entry: CrdtDelta) => void;
  /** Timers of the background rehash. */
  clock: Clock;
  onError?: (error: unknown) => void;
  /** The digest hashes a snapshot restore brought. */
  restored?: RestoredDigest;
}

/** Where a round's requests go and how what it pulls is merged. */
interface Channel {
  ask: (request: NodeRequest) => Promise<NodeReply>;
  merge: (state: FullState) => void;
  /** Ask another peer of this DC (a bulk pull's helpers; rounds over this DC's bus only). */
  askPeer?: (peer: string, request: NodeRequest) => Promise<NodeReply>;
  /** The round's peer (this DC's rounds only). */
  peer?: string;
}

export class AntiEntropy {
  private readonly digests: StoreDigest;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly o: AntiEntropyOptions) {
    this.digests = new StoreDigest(o.store, o.clock, (error) => o.onError?.(error), o.restored);
    this.pageWriter = new RangePageWriter(o.nodeId);
  }

  private get tree(): StoreDigest["tree"] {
    return this.digests.tree;
  }

  /**
   * A bulk pull is under way: this node is (next to) empty and filling up. A peer's digest round
   * with it now would find it lacking everything and push it all a second time (request-server.ts
   * turns such rounds away; they are retried, and by then find nothing to do).
   */
  get catchingUp(): boolean {
    return this.bulkPulls > 0 || this.digests.seeding;
  }

  private bulkPulls = 0;

  /** Keys changed since they were last hashed into the digest tree. */
  get pendingRehash(): number {
    return this.digests.pending;
  }

  /** The digest's entry hashes, for snapshots to store (extension/context.ts). */
  readonly digestHashes: DigestHashes = { version: DIGEST_HASH_VERSION, hashOf: (key) => this.digests.hashOf(key), settled: () => this.digests.settled() };

  /**
   * Stop the background rehashing and every round (the replicator is closing): a round still
   * waiting for a reply neither merges nor sends anything after it (a closed replica's state, stale
   * from then on, must not reach its peers).
   */
  stop(): void {
    this.stopped = true;
    this.digests.stop();
  }

  /** Run one round with `peer` after the rounds already queued. Never rejects; true when it completed. */
  sync(peer: string, cause: RepairCause): Promise<boolean> {
    return this.run({ ask: (request) => this.o.ask(peer, request), merge: this.o.merge, askPeer: this.o.ask, peer }, cause, peer).then((ok) => {
      if (ok) this.roundsEnded.set(peer, this.o.clock.now());
      return ok;
    });
  }

  /** When the last completed round with each peer ended (ms): what it held had reached us then. */
  readonly roundsEnded = new Map<string, number>();

  /**
   * Run one round through any request channel (cross-DC rounds go to a remote DC's subject), with
   * `merge` for what it pulls (so the changes are told apart from this DC's).
   * Queued behind the rounds already running; never rejects, returns whether the round completed.
   */
  syncVia(ask: (request: NodeRequest) => Promise<NodeReply>, cause: RepairCause, merge: (state: FullState) => void): Promise<boolean> {
    return this.run({ ask, merge }, cause, undefined);
  }

  private run(channel: Channel, cause: RepairCause, peer: string | undefined): Promise<boolean> {
    const closed = (): Promise<NodeReply> => Promise.reject(new ProtocolError("anti-entropy stopped: the replicator is closed"));
    const { askPeer } = channel;
    const guarded: Channel = {
      ask: (request) => (this.stopped ? closed() : channel.ask(request)),
      merge: (state) => {
        if (!this.stopped) channel.merge(state);
      },
      ...(askPeer === undefined ? {} : { askPeer: (peer: string, request: NodeRequest) => (this.stopped ? closed() : askPeer(peer, request)), peer: channel.peer }),
    };
    const run = this.queue.then(() => this.round(guarded, cause, peer));
    const outcome = run.then(
      () => true,
      (error: unknown) => {
        if (!this.stopped) this.o.onError?.(error);
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
    if (request.level === RANGE_LEVEL) {
      const reply = decodeNodeReply(this.rangePage(request, direct ? request.from : undefined));
      if (reply.type !== "digest") throw new ProtocolError("anti-entropy: a range page did not decode as a digest reply");
      return reply;
    }
    this.digests.refreshForAnswer();
    const reply = answerDigest(this.tree, { level: request.level as 0 | 1, buckets: request.buckets });
    const hashing = new Set<number>();
    for (const key of this.digests.hashing()) hashing.add(groupOf(leafOf(key)));
    return { differing: [...reply.differing], keys: [...reply.keys], wanted: [], ...(hashing.size > 0 ? { hashing: [...hashing] } : {}) };
  }

  /**
   * A page of a bulk pull (see RANGE_LEVEL), encoded as the NodeReply that carries it: the values
   * and tombstones of the requested groups' leaves from `request.bucket` on, each leaf's keys in
   * sorted order (so a page may end inside a leaf and the next one resumes after its last key), as
   * many as fit a reply (at least one key). Written without an object per key (a joiner pulls a
   * million). Throws InvalidArgumentError for a group or leaf out of range.
   */
  rangePage(request: DigestRequest, largeTo: string | undefined): Uint8Array {
    const groups = new Uint8Array(GROUPS);
    for (const { bucket } of request.buckets) {
      if (!Number.isInteger(bucket) || bucket < 0 || bucket >= GROUPS) throw new InvalidArgumentError(`digest group index out of range: ${String(bucket)}`);
      groups[bucket] = 1;
    }
    const start = request.bucket;
    if (!Number.isInteger(start) || start < 0 || start >= LEAVES) throw new InvalidArgumentError(`digest leaf index out of range: ${String(start)}`);
    this.digests.refreshForAnswer();
    let after: string | undefined = request.keys[0]?.key;
    const budget = Math.min(this.budget(), Math.max(FIRST_PAGE_BYTES, request.pageBytes ?? Infinity));
    const page = this.pageWriter;
    page.reset();
    if (request.storeOrder === true) return this.storeOrderPage(page, groups, request.resumeAt ?? 0, budget, largeTo);
    const list = this.leafList;
    const large: { key: string; value: Crdt }[] = [];
    for (let leaf = start; leaf < LEAVES; leaf++, after = undefined) {
      if (groups[leaf >>> 8] === 0) {
        leaf = (leaf >>> 8) * LEAVES_PER_GROUP + LEAVES_PER_GROUP - 1; // skip the rest of the group
        continue;
      }
      this.tree.listLeaf(leaf, list);
      if (list.count === 0) continue;
      // Key order matters only where a page starts or ends inside a leaf (the joiner resumes after
      // the last key it got): a leaf goes in as listed, and is sorted only to start after a key,
      // or when it does not fit whole (it is then taken out and added again, sorted).
      let sorted = after !== undefined;
      if (sorted) list.sortByKey();
      const mark = page.checkpoint();
      let full = this.addLeaf(page, list, after, budget, largeTo, sorted ? undefined : large) < list.count;
      if (full && !sorted) {
        page.rewind(mark);
        large.length = 0;
        list.sortByKey();
        sorted = true;
        full = this.addLeaf(page, list, undefined, budget, largeTo, undefined) < list.count;
      }
      this.sendLargeOnes(large, largeTo);
      if (full) return page.finish(leaf);
    }
    return page.finish(undefined);
  }

  /**
   * A store-order page (see RANGE_LEVEL): the entries of `groups` in the digest tree's slot order
   * (DigestTree.listSlots) from position `from` on, as many as fit `budget`, and where the next
   * page goes on. Slots are in about the order the keys and values were made, so the page reads
   * memory in turn: leaf by leaf, every key's reads were cache misses (most of a page's cost in a
   * store of millions of keys).
   */
  private storeOrderPage(page: RangePageWriter, groups: Uint8Array, from: number, budget: number, largeTo: string | undefined): Uint8Array {
    const tree = this.tree;
    const list = this.leafList;
    const large: { key: string; value: Crdt }[] = [];
    for (let at = from; ; ) {
      const next = tree.listSlots(at, groups, SLOT_RUN, list);
      const stop = this.addLeaf(page, list, undefined, budget, largeTo, large);
      this.sendLargeOnes(large, largeTo);
      // Where a page stops, the next begins: the first entry it left out (never the first slot listed, as a page holds a key at least).
      if (stop < list.count) return page.finish(undefined, { at: list.slots[stop]!, positions: tree.positions });
      if (next >= tree.positions) return page.finish(undefined, { at: 0, positions: tree.positions });
      at = next;
    }
  }

  /** Send (and forget) the values too large for any message that a page named (see addLeaf's `large`). */
  private sendLargeOnes(large: { key: string; value: Crdt }[], largeTo: string | undefined): void {
    for (const { key, value } of large) this.sendLarge(largeTo, this.largeEntry(key, value));
    large.length = 0;
  }

  private largeEntry(key: string, value: Crdt): CrdtDelta {
    return { key, kind: value.kind, originNode: this.o.nodeId, value, data: encodeValue(value) };
  }

  /** Scratch for `rangePage` (synchronous: one at a time): the page, a leaf's keys, and their values (addLeaf). */
  private readonly pageWriter: RangePageWriter;
  private readonly leafList = new LeafList();
  private readonly leafValues: (Crdt | undefined)[] = [];
  /** What addLeaf's first pass read, kept so that the reads are not optimized away (read by nothing). */
  touched = 0;

  /**
   * Add `list`'s entries (those after the key `after`) to `page` until it is past `budget` bytes
   * (the entry that overflowed it taken out again); returns the index of that entry (`list.count`:
   * all went in). A value too large for any message goes by the direct path to `largeTo`, or,
   * with `large`, into it (the caller sends it once the entries stay).
   */
  private addLeaf(page: RangePageWriter, list: LeafList, after: string | undefined, budget: number, largeTo: string | undefined, large: { key: string; value: Crdt }[] | undefined): number {
    const store = this.o.store;
    // Nothing waits to be rehashed: every hash the tree lists is current (no lookup per key to ask).
    const clean = this.digests.pending === 0;
    const values = this.leafValues;
    // First every value, read where the tree says the store keeps it, and its key and value
    // touched: reads of different keys do not wait on each other, so their cache misses overlap.
    // In the loop that encodes them each key's misses came one after another, and in a store of
    // 10 M keys (a heap of gigabytes) they were most of a page's cost.
    let touched = 0;
    for (let i = 0; i < list.count; i++) {
      const place = list.places[i]!;
      const value = place === NO_PLACE ? undefined : store.valueAtPlace(place, list.keys[i]!);
      values[i] = value;
      touched += list.keys[i]!.length + (value === undefined ? 0 : value.kind.length);
    }
    this.touched = touched;
    let stop = list.count;
    for (let i = 0; i < list.count; i++) {
      const key = list.keys[i]!;
      if (after !== undefined && key <= after) continue;
      let lo = list.hashes[2 * i]!;
      let hi = list.hashes[2 * i + 1]!;
      if (!clean && this.digests.isStale(key)) lo = hi = 0; // no hash yet
      // Looked up (and the place noted) when it moved.
      let value = values[i];
      if (value === undefined) {
        value = store.value(key);
        if (value !== undefined) this.tree.movePlace(list.slots[i]!, store.placeOf(key));
      }
      let tooLarge = false;
      if (value !== undefined) {
        // The key twice (entry and KeyHash), the origin, the data, tags and lengths (UTF-8 at most 3 bytes a char).
        if (page.value(key, value, lo, hi) + 6 * key.length + 3 * this.o.nodeId.length + 40 > this.o.maxPayload) {
          // No message holds it: it goes by the direct path; the page names the key only.
          page.undo();
          page.keyOnly(key, lo, hi);
          tooLarge = true;
        }
      } else {
        const tombstone = store.tombstone(key);
        if (tombstone === undefined) continue;
        page.tombstone(tombstone, lo, hi);
      }
      if (page.count > 1 && page.size > budget) {
        page.undo();
        stop = i;
        break;
      }
      if (tooLarge && value !== undefined) {
        if (large !== undefined) large.push({ key, value });
        else this.sendLarge(largeTo, this.largeEntry(key, value));
      }
    }
    values.fill(undefined, 0, list.count); // nothing kept alive by the scratch
    return stop;
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
      const h = this.holding(key);
      const bytes = key.length * 3 + 48 + (h?.data?.length ?? 0);
      // A value too large for any message goes its own way at once, whatever the budget.
      const large = h?.value !== undefined && bytes > this.o.maxPayload;
      if (!large && taken > 0 && size + bytes > budget) break;
      taken++;
      if (!large) size += bytes;
      if (h !== undefined) this.add(state, h, bytes, largeTo);
    }
    return { state, taken };
  }

  /** What this node holds for `key`: its value, with the value's encoding, or its tombstone. */
  private holding(key: string): Holding | undefined {
    const value = this.o.store.get(key);
    if (value !== undefined) return { key, value, data: encodeValue(value.value) };
    const tombstone = this.o.store.tombstone(key);
    return tombstone === undefined ? undefined : { key, tombstone };
  }

  /**
   * Add `h` to `state`; a value no message can hold (`bytes`, its share of a message, past the
   * max payload) goes to `largeTo` by sendLarge instead. True when it went into `state`.
   */
  private add(state: FullState, h: Holding, bytes: number, largeTo: string | undefined): boolean {
    if (h.value === undefined) {
      state.tombstones.push({ ...h.tombstone! });
      return true;
    }
    const entry: CrdtDelta = { key: h.key, kind: h.value.kind, originNode: this.o.nodeId, value: h.value.value, data: h.data! };
    if (bytes > this.o.maxPayload) {
      this.sendLarge(largeTo, entry);
      return false;
    }
    state.entries.push(entry);
    return true;
  }

  private sendLarge(peer: string | undefined, entry: CrdtDelta): void {
    const bytes = entry.data?.length ?? 0;
    if (peer === undefined || this.o.sendLarge === undefined) {
      this.o.onError?.(new ProtocolError(`anti-entropy: key "${entry.key}" (${bytes} bytes) does not fit a message and this channel has no direct path`));
      return;
    }
    this.o.stats.largeValueSends++;
    this.o.sendLarge(peer, entry);
  }

  private budget(): number {
    return Math.floor(this.o.maxPayload * 0.8);
  }

  private async round(channel: Channel, cause: RepairCause, peer: string | undefined): Promise<void> {
    const { ask } = channel;
    await this.digests.refreshAll();
    let first = openRound(this.tree);
    let opening = await this.digest(ask, first);
    for (let recheck = 0; recheck < RECHECKS_MAX && this.worthRecheck(opening, recheck); recheck++) {
      await new Promise<void>((resolve) => this.o.clock.setTimeout(resolve, RECHECK_DELAY_MS));
      await this.digests.refreshAll();
      first = openRound(this.tree);
      opening = await this.digest(ask, first);
    }
    const differing = opening.differing.filter((g) => Number.isInteger(g) && g >= 0 && g < GROUPS);
    if (differing.length > 0 && this.tree.size < differing.length * BULK_KEYS_PER_GROUP) {
      // (Next to) empty where the peer differs, e.g. a new node: pull those groups wholesale.
      let bulk = false;
      this.bulkPulls++;
      try {
        await this.bulkPull(channel, differing);
        bulk = true;
      } catch (error) {
        this.o.onError?.(error); // e.g. a peer without level 3: the ordinary round does it all
      } finally {
        this.bulkPulls--;
      }
      // The pages' hashes go into the tree now (StoreDigest.mergeSeeded), out of the pull's way.
      await this.digests.refreshAll();
      if (bulk) {
        // What we hold alone, and what changed meanwhile, goes in an ordinary round.
        first = openRound(this.tree);
        opening = await this.digest(ask, first);
      }
    }
    const perRequest = groupsPerRequest(this.tree.size, this.o.maxPayload);
    let step = nextStep(this.tree, first, opening, { maxGroupsPerRequest: perRequest });
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
    await this.pull(channel, [...diff.iLack, ...diff.differ]);
    this.o.stats.antiEntropyCount++;
    this.o.stats.repair(cause);
  }

  /**
   * Whether to ask for the opening again (see RECHECK_DELAY_MS) rather than diff: the peer is still
   * hashing a key in a differing group, or (once) such a group holds one of our large sets.
   */
  private worthRecheck(opening: DigestReply, recheck: number): boolean {
    const differing = new Set(opening.differing);
    if (opening.hashing?.some((g) => differing.has(g)) === true) return true;
    if (recheck > 0) return false;
    for (const key of this.digests.largeSetKeys()) if (differing.has(groupOf(leafOf(key)))) return true;
    return false;
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
    if (reply.type !== "digest") throw new ProtocolError(`a digest request was answered with ${reply.type}`);
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
  private async pull({ ask, merge }: Channel, keys: string[]): Promise<void> {
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
      merge(reply.state);
      const asked = new Set(page);
      carried = reply.wanted.filter((k) => asked.has(k));
      if (carried.length >= page.length) return; // no progress: leave it to the next round
    }
  }

  /** Pull every key of `groups` from the peer in leaf-range pages, several streams at a time. */
  private async bulkPull(channel: Channel, groups: number[]): Promise<void> {
    const sorted = [...new Set(groups)].sort((a, b) => a - b);
    const per = Math.ceil(sorted.length / RANGE_STREAMS);
    const streams: Promise<void>[] = [];
    const covered: number[] = [];
    const received = { keys: 0, reserved: this.digests.size };
    for (let i = 0, n = 0; i < sorted.length; i += per, n++) {
      covered.push(0);
      const progress = (leaves: number, keys: number): void => {
        covered[n] = leaves;
        received.keys += keys;
        this.expect(received, covered.reduce((a, b) => a + b, 0) / (sorted.length * LEAVES_PER_GROUP));
      };
      streams.push(this.rangeStream(channel, n, sorted.slice(i, i + per), progress));
    }
    const outcomes = await Promise.allSettled(streams);
    for (const o of outcomes) if (o.status === "rejected") throw o.reason;
  }

  /**
   * Size the store for the keys a bulk pull will bring (see `bulkReservation`); the digest tree
   * grows once, when the pages' hashes go in (StoreDigest.putSeeds).
   */
  private expect(received: { keys: number; reserved: number }, fraction: number): void {
    const target = bulkReservation(this.digests.size, received.keys, fraction, received.reserved);
    if (target === undefined) return;
    received.reserved = target;
    this.o.store.reserve(target);
  }

  /**
   * Which member stream `n` of a bulk pull asks for its pages: the round's peer (undefined) or one
   * of its helpers (stream n the n-th of them), so each answers its share within its rate limit
   * (request-server.ts, BULK_LIMITS).
   */
  private helperFor({ askPeer, peer }: Channel, n: number): string | undefined {
    if (askPeer === undefined || peer === undefined || this.o.bulkHelpers === undefined) return undefined;
    const sources = this.o.bulkHelpers(peer).filter((p) => p !== peer);
    return n % (sources.length + 1) === 0 ? undefined : sources[(n % (sources.length + 1)) - 1];
  }

  /**
   * Ask `helper` for a page, or the round's peer when there is none or it does not answer (an
   * error, a timeout): the peer then gets `fallback`. `by`: who answered (undefined: the peer).
   */
  private async askVia(channel: Channel, helper: string | undefined, request: NodeRequest, fallback: NodeRequest): Promise<{ reply: NodeReply; by: string | undefined }> {
    if (helper === undefined || channel.askPeer === undefined) return { reply: await channel.ask(request), by: undefined };
    try {
      const reply = await channel.askPeer(helper, request);
      if (reply.type === "digest") return { reply, by: helper };
    } catch (error) {
      if (this.stopped) throw error;
    }
    return { reply: await channel.ask(fallback), by: undefined };
  }

  /**
   * Stream `n` of a bulk pull: every key of `groups`, page by page. In store order (see
   * RANGE_LEVEL) from one member, whose positions the pages go on from: its first, or the round's
   * peer once that member fails (from the start then). Leaf by leaf once a member answers so (an
   * older release), its member chosen again at every page (helpers heard later join in).
   * `progress`: after each page, how many of the groups' leaves it covered and the keys it brought.
   */
  private async rangeStream(channel: Channel, n: number, groups: number[], progress: (leaves: number, keys: number) => void): Promise<void> {
    const merge = channel.merge;
    const buckets = groups.map((bucket) => ({ bucket, hash: 0n }));
    const leaves = groups.length * LEAVES_PER_GROUP;
    let leaf = groups[0]! * LEAVES_PER_GROUP;
    let after: string | undefined;
    let storeOrder = true;
    let resumeAt = 0;
    let source = this.helperFor(channel, n); // in store order: whose positions resumeAt counts
    let pageBytes = FIRST_PAGE_BYTES;
    for (;;) {
      const request: NodeRequest = {
        type: "digest",
        from: this.o.nodeId,
        level: RANGE_LEVEL,
        buckets,
        keys: after === undefined ? [] : [{ key: after, hash: 0n }],
        bucket: leaf,
        ...(pageBytes < this.budget() ? { pageBytes } : {}),
        ...(storeOrder ? { storeOrder: true, resumeAt } : {}),
      };
      const helper = storeOrder ? source : this.helperFor(channel, n);
      const { reply, by } = await this.askVia(channel, helper, request, storeOrder ? { ...request, resumeAt: 0 } : request);
      pageBytes *= 2;
      if (reply.type !== "digest") throw new ProtocolError(`a range request was answered with ${reply.type}`);
      // A page read by hand comes in columns (no object per key); any other reply as usual.
      const page = reply.page;
      const listed = page?.keys ?? reply.keys.map((k) => k.key);
      this.o.stats.bulkPullKeys += listed.length;
      if (page !== undefined) {
        this.digests.mergeSeeded(listed.length, () => merge({ entries: [], tombstones: [], page }), (take) => seedColumns(page, take));
      } else if (reply.state !== undefined) {
        const state = reply.state;
        this.digests.mergeSeeded(state.entries.length, () => merge(state), (take) => this.seed(state, reply.keys, take));
      }
      if (storeOrder) {
        const askedFrom = by === source ? resumeAt : 0; // a failed helper's stream began again at the peer
        source = by;
        if (reply.resumeAt !== undefined) {
          // Each page must move forward: a confused peer must not keep us looping.
          if (!(reply.resumeAt > askedFrom) || listed.length === 0) throw new ProtocolError("anti-entropy: a store-order range reply did not advance");
          resumeAt = reply.resumeAt;
          progress(Math.min(1, resumeAt / Math.max(1, reply.positions ?? 0)) * leaves, listed.length);
          continue;
        }
        if (reply.differing.length === 0) return;
        storeOrder = false; // an older release answered from the first leaf: go on leaf by leaf
      } else if (reply.resumeAt !== undefined) throw new ProtocolError("anti-entropy: a leaf-range reply went on in store order");
      if (reply.differing.length === 0) return;
      const next = reply.differing[0]!;
      const last = listed.at(-1);
      // Each page must move the cursor forward: a confused peer must not keep us looping.
      const nextAfter = last !== undefined && leafOf(last) === next ? last : undefined;
      const forward = next > leaf || (next === leaf && nextAfter !== undefined && (after === undefined || nextAfter > after));
      if (!Number.isInteger(next) || next >= LEAVES || listed.length === 0 || !forward) {
        throw new ProtocolError("anti-entropy: a range reply did not advance");
      }
      leaf = next;
      after = nextAfter;
      progress(Math.max(0, groups.indexOf(groupOf(leaf))) * LEAVES_PER_GROUP + (leaf % LEAVES_PER_GROUP), listed.length);
    }
  }

  /** Offer `take` every value of the page with the peer's entry hash of its key (see `mergeSeeded`). */
  private seed(state: FullState, keys: readonly KeyHash[], take: SeedTake): void {
    // A page lists its entries in the order of its keys (no lookup table): an entry not found
    // further on ends the seeding, and what is not seeded is rehashed as usual.
    let k = 0;
    const entries = state.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!; // by index: see Merger.fullState
      while (k < keys.length && keys[k]!.key !== e.key) k++;
      if (k === keys.length) return;
      const hash = keys[k++]!.hash;
      take(e.key, e.value, Number(BigInt.asIntN(32, hash)), Number(BigInt.asIntN(32, hash >> 32n)));
    }
  }
}

/** `seed` for a page read by hand: its values in order (undefined: kept undecoded), each with its key's hash halves. */
function seedColumns(page: PageColumns, take: SeedTake): void {
  const { keys, values, undecoded, hashes } = page;
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    if (value !== undefined || undecoded[2 * i + 1]! > 0) take(keys[i]!, value, hashes[2 * i]!, hashes[2 * i + 1]!);
  }
}

/**
 * How many keys to make room for during a bulk pull, or undefined (not now): `held` keys held,
 * `received` of them brought by the pull in `fraction` of its leaves, room for `reserved` made so
 * far. Grown key by key, the store re-indexes and copies every key several times over, so
 * room is made once, for the whole estimate (and a quarter), as soon as that is at most
 * EXPECT_FACTOR times what we hold: a peer that lies about its leaves makes us reserve little more
 * than it sent; until then it grows by itself (the digest tree grows once, after the pull). Each step on the way allocated the arrays
 * anew, and fresh memory costs page faults again: a 1 M-key pull's three steps took ~0.7 s.
 */
export function bulkReservation(held: number, received: number, fraction: number, reserved: number): number | undefined {
  if (!(fraction > 0 && fraction < 1)) return undefined;
  const coming = held + (received / fraction - received);
  if (coming <= reserved) return undefined;
  const target = coming * 1.25;
  return target > EXPECT_FACTOR * held ? undefined : target;
}
