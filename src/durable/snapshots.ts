/**
 * LevelDB snapshots of the local replica.
 *
 * Layout of the database (keys are UTF-8 strings, values `SnapshotEntry` protobufs):
 *   "v/<key>"  the key's full CRDT state       "t/<key>"  the key's tombstone
 *   "m/meta"   SnapshotMeta: node, incarnation, writer id, written-at, clean-shutdown flag
 *   "p/<n>"    a SnapshotPack: many keys' states (issue 13: a 1 M-key restore reads ~300 entries)
 * A value, packed or loose, is stored with its digest entry hash when the replicator had it current,
 * so that a restore seeds the digest instead of rehashing every key (see `DigestSeeds`).
 *   "x/<key>"  empty: the key's packed state is gone (its tombstone expired)
 * Precedence on restore: a tombstone over any value; "v/" over "x/" over "p/". So small batches keep
 * writing one "v/" entry per changed key ("loose" entries, the layout of releases before packs,
 * which therefore restore as they are), and once the loose entries outgrow an eighth of the store
 * the next batch repacks: every value into fresh packs, and the old packs, loose entries and "x/"
 * markers deleted. Writes stay incremental (amortised: a key is rewritten by at most one repack
 * per store/8 changes), and a restore is mostly packs.
 * A repack writes its packs in batches of a few MB (one atomic batch of every value held the event
 * loop for seconds at ten million keys: LevelDB's batch buffer doubles, copied on the main thread)
 * and commits them with a last batch that deletes what they replace and writes the meta naming
 * them (`SnapshotMeta.packs`). A restore reads only the packs the meta names: packs a repack wrote
 * but never committed (a crash, a failed write) are ignored, and the next write deletes them.
 *
 * Lifecycle:
 * - `Snapshots.open` (before the node connects): checks the directory, opens LevelDB, restores
 *   every value and tombstone into the store, reads the meta, then durably marks the snapshot
 *   "not clean" — so a crash at any later point makes the next start write under a fresh writer id.
 * - `attach(ctx)` (once the replicator exists): every `intervalMs`, the keys changed since the last
 *   write (and only those) go to LevelDB in one atomic batch together with the meta. A failed
 *   write is counted and retried at the next interval with the same keys (plus newer changes).
 * - the handle's `close()`: a final batch with `cleanShutdown: true` and the writer id, then the
 *   database is closed. The next start reuses that writer id (see `writerIdFor` in replicator/identity.ts).
 * - the handle's `persist(key)` (durable writes): the same write as the periodic one,
 *   started now instead of at the interval, resolving once the batch holding the key's current
 *   state is written. Group commit: while one batch is written, every later `persist` waits for the
 *   next one, which then takes all keys changed meanwhile. One queue runs every batch (durable,
 *   periodic, final), so they never race and the layout on disk is the periodic writer's.
 *
 * Why a crash makes the next start write under a fresh writer id, durable writes or not:
 * ARCHITECTURE.md, "Snapshots: when a writer id may be reused".
 *
 * Encoding never holds the event loop for long: the batch is filled in slices of a few
 * milliseconds (a 1 M-key write yields hundreds of times), and LevelDB writes off the main thread.
 */
import { constants } from "node:fs";
import { access, mkdir, readdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Level } from "level";
import { ConfigError, DurableWriteError, InvalidArgumentError, errorMessage } from "../errors.js";
import type { ReplicatorContext } from "../extension/context.js";
import type { ReplicatorStats } from "../extension/stats.js";
import type { RestorableStore } from "../extension/store-view.js";
import type { SnapshotOptions } from "./options.js";
import type { Crdt, DataKind } from "../crdt/types.js";
import {
  decodeSnapshotEntry,
  decodeValue,
  encodeSnapshotEntry,
  kindOf,
  PackedValues,
  type PackRange,
  PackWriter,
  readPack,
  type SnapshotEntry,
  type SnapshotMeta,
  snapshotValueOf,
  type StoredDigestHash,
} from "../wire/codec.js";

/** LevelDB key prefixes. */
export const VALUE_PREFIX = "v/";
export const TOMBSTONE_PREFIX = "t/";
export const META_KEY = "m/meta";
export const PACK_PREFIX = "p/";
export const GONE_PREFIX = "x/";

/** A pack is closed once it holds this many bytes. */
const PACK_BYTES = 128 * 1024;
/** A repack writes its packs to LevelDB in batches of about this many bytes (see the layout above). */
const PACK_BATCH_BYTES = 2 * 1024 * 1024;
/** Repack when the loose entries would exceed max(REPACK_MIN_LOOSE, store size / REPACK_FRACTION). */
const REPACK_MIN_LOOSE = 8192;
const REPACK_FRACTION = 8;

/** Longest stretch of synchronous encoding before yielding to the event loop. */
const SLICE_MS = 8;
/** Entries read from LevelDB per native call while restoring (the next chunk is read meanwhile). */
const RESTORE_CHUNK = 4000;
const RESTORE_PACK_CHUNK = 8;
/** Most keys a restore sizes the store for up front (more still restore, growing as they come). */
const MAX_RESERVE = 2 ** 25;

/**
 * Whether a batch of `dirty` changed keys repacks the store instead of adding loose entries
 * (pure: see the layout above).
 */
export function shouldRepack(loose: number, dirty: number, storeSize: number): boolean {
  return loose + dirty > Math.max(REPACK_MIN_LOOSE, storeSize / REPACK_FRACTION);
}

/**
 * Where a restore hands the digest entry hashes stored next to the values (see `DigestHashes` in
 * extension/context.ts), so the replicator need not rehash every key.
 */
export interface DigestSeeds {
  /** The replicator's hash definition: hashes stored under another one are not handed out. */
  readonly version: number;
  /**
   * A value was put into the store for `key`, with its stored entry hash: the 8 bytes
   * (little-endian) at `at` of `hashes`; none when `hashes` is undefined or they are all 0. (Bytes
   * where a pack holds them, not a bigint: a restore of a million keys would allocate one each.)
   */
  restored(key: string, hashes: DataView | undefined, at: number): void;
  /** Values `restored` so far. */
  readonly count: number;
  /** The values `restored` as the `indices`-th (ascending) did not go into the store after all. */
  dropped(indices: readonly number[]): void;
  /** About `values` values are coming (what the last write held): room for them at once. */
  reserve(values: number): void;
}

/** What `Snapshots.open` restores into (the replicator's store, stats and writer id). */
export interface RestoreTarget {
  store: RestorableStore;
  stats: ReplicatorStats;
  /** Set to the previous run's writer id when its snapshot was written by a clean close. */
  writerId: string | undefined;
  /** Told of every value restored, with its stored digest hash (absent: hashes are not read). */
  digests?: DigestSeeds;
}

export interface RestoreReport {
  /** Values put back into the store. */
  values: number;
  /** Tombstones put back into the store. */
  tombstones: number;
  /** Corrupt or undecodable entries skipped (also added to `stats.snapshotSkippedEntries`). */
  skipped: number;
  /** Wall time of the restore: iterating, decoding and filling the store. */
  ms: number;
  /** The meta of the previous run, if it could be read. */
  previous: SnapshotMeta | undefined;
  /** True when the previous run closed cleanly and this node reuses its writer id. */
  writerIdReused: boolean;
}

export interface SnapshotWriteReport {
  /** Values written (loose "v/" puts, or packed by a repack), "t/" puts and deletions in the batch (the meta entry excluded). */
  values: number;
  /** Packs written (a repack), 0 for a batch of loose entries. */
  packs: number;
  tombstones: number;
  deletes: number;
  /** Encoded bytes of the puts (meta included). */
  bytes: number;
  /** Time spent encoding and filling the batch (in slices), and the whole write. */
  encodeMs: number;
  ms: number;
  /** Whether this was the final write of a clean close. */
  clean: boolean;
}

/** What `attach` returns: the replicator closes it on `close()`. */
export interface SnapshotHandle {
  /** Write the changed keys now (queued behind a write in progress). Resolves false on failure. */
  flush(): Promise<boolean>;
  /**
   * Resolve once the key's current state is in LevelDB: it joins the next batch (group commit).
   * Rejects with DurableWriteError when that batch fails or the snapshot is closing.
   */
  persist(key: string): Promise<void>;
  /** Final snapshot (`cleanShutdown: true`), then close the database. Never rejects. */
  close(): Promise<void>;
}

type Db = Level<string, Uint8Array>;
/** classic-level's compaction call (see `writeOut`). */
interface Compacting {
  compactRange(start: string, end: string): Promise<void>;
}
type Batch = ReturnType<Db["batch"]>;

/** The snapshot's entries besides values and tombstones (see the layout above). */
interface Layout {
  /** Numbers of the packs the last repack committed. */
  packs: PackRange;
  /** LevelDB keys of packs on disk outside `packs`, written by a repack that never committed: the next write deletes them. */
  stray: string[];
  /** Keys with a "v/" entry. */
  loose: Set<string>;
  /** Keys with an "x/" marker. */
  gone: Set<string>;
  /** Number of the next pack to write (names never repeat: a restore tells committed packs from others by number). */
  nextPack: number;
}

/** A batch's changes to the layout: new packs (a repack, which also empties `loose` and `gone`), loose entries written and deleted, markers written. */
interface LayoutChange {
  packs: PackRange | undefined;
  loose: string[];
  unloose: string[];
  gone: string[];
}

function applyChange(layout: Layout, change: LayoutChange): void {
  if (change.packs !== undefined) {
    layout.packs = change.packs;
    layout.loose = new Set();
    layout.gone = new Set();
  }
  for (const k of change.unloose) layout.loose.delete(k);
  for (const k of change.loose) layout.loose.add(k);
  for (const k of change.gone) layout.gone.add(k);
}

/** "p/" and the pack number, fixed-width so packs sort in the order they were written. */
function packName(n: number): string {
  return PACK_PREFIX + n.toString(16).padStart(10, "0");
}

/** The number in a pack's name; undefined for a name no pack was written under. */
function packNumber(name: string): number | undefined {
  const hex = name.slice(PACK_PREFIX.length);
  return /^[0-9a-f]{10}$/.test(hex) ? Number.parseInt(hex, 16) : undefined;
}

/** The first LevelDB key after every key that starts with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** The snapshot options `Snapshots` itself uses (write-through is the replicator's per-call choice). */
export type SnapshotSettings = Required<Pick<SnapshotOptions, "dir" | "intervalMs">> & Pick<SnapshotOptions, "sync">;

/** A durable write waiting for the batch that holds its key. */
interface Waiter {
  key: string;
  resolve(): void;
  reject(error: DurableWriteError): void;
}

/** What one batch did, for its waiters. */
interface BatchOutcome {
  ok: boolean;
  /** Why the whole batch failed (every waiter rejects). */
  failure?: DurableWriteError;
  /** Keys left out because their value could not be encoded, with the error. */
  unencodable?: Map<string, unknown>;
}

export class Snapshots {
  /** Absolute path of the LevelDB directory. */
  readonly dir: string;
  readonly restore: RestoreReport;
  /** The last successful write, for operators and benchmarks. */
  lastWrite: SnapshotWriteReport | undefined;

  private dirty = new Set<string>();
  /** Keys whose tombstone expired since the last write: their "t/" entry must go. */
  private expired = new Set<string>();
  private ctx: ReplicatorContext | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private state: "open" | "attached" | "closing" | "closed" = "open";
  /** LevelDB writing a repack out of its log (see `writeOut`). */
  private writingOut: Promise<void> = Promise.resolve();
  /** Durable writes waiting for the next batch to start, and whether that batch is queued. */
  private waiters: Waiter[] = [];
  private writeQueued = false;
  /** What is on disk besides values and tombstones: the packs, the keys with a loose "v/" entry, the "x/" markers. */
  private readonly layout: Layout;

  private constructor(
    private readonly db: Db,
    private readonly options: SnapshotSettings,
    private readonly nodeId: string,
    private readonly store: RestorableStore,
    private readonly stats: ReplicatorStats,
    restore: RestoreReport,
    layout: Layout,
  ) {
    this.dir = db.location;
    this.restore = restore;
    this.layout = layout;
  }

  /**
   * Open (or create) the snapshot directory and restore it into `target`. Fails with ConfigError
   * naming the path when the directory cannot be used; a corrupt entry never fails it.
   */
  static async open(options: SnapshotSettings, target: RestoreTarget, nodeId: string): Promise<Snapshots> {
    const dir = await prepareDirectory(options.dir);
    // Loaded here, not at the top: importing the library must not load LevelDB's native addon
    // when no snapshots are configured.
    const { Level: LevelDb } = await import("level");
    const db: Db = new LevelDb<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view", createIfMissing: true });
    try {
      await db.open();
    } catch (error) {
      throw openError(options.dir, dir, error);
    }
    try {
      const { report, stale, layout } = await restoreInto(db, target, nodeId);
      const s = new Snapshots(db, options, nodeId, target.store, target.stats, report, layout);
      for (const key of stale) s.dirty.add(key);
      // From here on the snapshot is "not clean" on disk: a crash before the final write makes the
      // next start use a fresh writer id. Synced, so an OS crash cannot undo it either.
      await db.put(META_KEY, encodeSnapshotEntry({ type: "meta", ...s.meta(s.previousIncarnation(), target.writerId ?? "", false) }), { sync: true });
      target.store.onChange((key, source) => s.changed(key, source));
      // (A failure here can only be a store listener's: reported once attached; reads still decode.)
      void s.settleDeferred().catch((error: unknown) => s.ctx?.reportError(error));
      return s;
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error instanceof ConfigError ? error : new ConfigError(`snapshot.dir "${options.dir}": cannot read the snapshot: ${errorMessage(error)}`, { cause: error });
    }
  }

  /**
   * Persist the incarnation this start took, before the node publishes anything: the next start
   * takes a higher one even if this process dies before its first snapshot (see cluster/incarnations.ts).
   */
  async recordIncarnation(incarnation: number): Promise<void> {
    const meta = this.meta(incarnation, "", false); // not clean: its writer id is never reused
    await this.db.put(META_KEY, encodeSnapshotEntry({ type: "meta", ...meta }), { sync: true });
  }

  /** The incarnation of the previous run of this node id; 0 when unknown. */
  private previousIncarnation(): number {
    const prev = this.restore.previous;
    return prev !== undefined && prev.node === this.nodeId ? prev.incarnation : 0;
  }

  /** Keys changed since the last successful write. */
  get pending(): number {
    return this.dirty.size;
  }

  /**
   * Decode the values the restore deferred, a slice at a time, so the node serves meanwhile and
   * no later pass over every value (a repack, the pruner's scan) pays for all of them at once.
   */
  private async settleDeferred(): Promise<void> {
    while (this.state !== "closed" && !this.store.settleDeferred(SLICE_MS)) await yieldToLoop();
  }

  /** Start periodic writes for a running replicator. */
  attach(ctx: ReplicatorContext): SnapshotHandle {
    if (this.state !== "open") throw new InvalidArgumentError("Snapshots.attach called twice or after close: give each replicator its own Snapshots");
    this.state = "attached";
    this.ctx = ctx;
    this.schedule();
    return { flush: () => this.flush(), persist: (key) => this.persist(key), close: () => this.finish() };
  }

  /** Close the database without a final snapshot (the replicator failed to start). */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    clearTimeout(this.timer);
    await this.queue;
    await this.writingOut;
    await this.db.close().catch(() => undefined);
  }

  /** Write the keys changed since the last write. Resolves false (and counts) on failure. */
  flush(): Promise<boolean> {
    return this.enqueue(false);
  }

  /** See `SnapshotHandle.persist`. */
  persist(key: string): Promise<void> {
    if (this.state !== "attached") {
      return Promise.reject(new DurableWriteError(`the snapshot in "${this.dir}" is ${this.state === "open" ? "not attached yet" : "closed"}; "${key}" is not durable`));
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ key, resolve, reject });
      if (this.writeQueued) return; // joins the batch already queued behind the one being written
      this.writeQueued = true;
      void this.enqueue(false);
    });
  }

  // ------------------------------------------------------------------ internals

  private changed(key: string, source: string): void {
    if (source === "restore" || this.state === "closed") return;
    this.dirty.add(key);
    if (this.store.get(key) === undefined && this.store.tombstone(key) === undefined) this.expired.add(key);
  }

  private schedule(): void {
    if (this.state !== "attached") return;
    this.timer = setTimeout(() => {
      void this.flush().finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private enqueue(clean: boolean): Promise<boolean> {
    const run = this.queue.then(() => this.write(clean));
    this.queue = run;
    return run;
  }

  private async finish(): Promise<void> {
    if (this.state !== "attached") return;
    this.state = "closing";
    clearTimeout(this.timer);
    await this.enqueue(true);
    this.state = "closed";
    await this.writingOut;
    try {
      await this.db.close();
    } catch (error) {
      this.ctx?.reportError(error);
    }
  }

  /**
   * After a repack: have LevelDB write the batch out of its log into sorted tables now, in its own
   * thread. A batch this large stays in the log (and in memory) until a later write fills the
   * memtable, and a close before that abandons the flush: the next open replays the whole log
   * before the restore reads a key (13 s of a 10 M-key restart). Closing waits for it.
   */
  private writeOut(packs: PackRange): void {
    const previous = this.writingOut;
    this.writingOut = (async () => {
      await previous;
      try {
        // `level` runs classic-level in Node, which has it (its browser build, which we never load, has not).
        await (this.db as Db & Partial<Compacting>).compactRange?.(packName(packs.first), packName(packs.end - 1));
      } catch (error) {
        this.ctx?.reportError(error); // the log is still there: the next open replays it, as it would have
      }
    })();
  }

  /** `packs`: the committed packs as of the batch that writes this meta. */
  private meta(incarnation: number, writerId: string, clean: boolean, packs = this.layout.packs): SnapshotMeta {
    return { node: this.nodeId, incarnation, lastSequence: 0, writtenAtMs: Date.now(), writerId, cleanShutdown: clean, values: this.store.size, packs };
  }

  /**
   * One batch and its waiters: every durable write made before it starts is in it (their keys are
   * dirty, or already written by an earlier batch, which the queue has finished). Never rejects.
   */
  private async write(clean: boolean): Promise<boolean> {
    const waiters = this.waiters;
    this.waiters = [];
    this.writeQueued = false;
    const outcome = await this.writeBatch(clean, waiters.length > 0);
    for (const w of waiters) {
      const skipped = outcome.unencodable?.get(w.key);
      if (outcome.failure !== undefined) w.reject(outcome.failure);
      else if (skipped === undefined) w.resolve();
      else w.reject(new DurableWriteError(`"${w.key}" cannot be encoded for the snapshot: ${errorMessage(skipped)}`, { cause: skipped }));
    }
    return outcome.ok;
  }

  /**
   * The changed keys and the meta, in one LevelDB batch. Never rejects. A batch that durable writes
   * wait for never repacks (that would hold them for a rewrite of the whole store): the next
   * periodic or final batch does.
   */
  private async writeBatch(clean: boolean, durable: boolean): Promise<BatchOutcome> {
    if (this.state === "closed" || this.ctx === undefined || this.db.status !== "open") {
      return { ok: false, failure: new DurableWriteError(`the snapshot database in "${this.dir}" is closed`) };
    }
    if (this.dirty.size === 0 && !clean) return { ok: true }; // nothing changed: no write at all
    const started = performance.now();
    const keys = this.dirty;
    const expired = this.expired;
    this.dirty = new Set();
    this.expired = new Set();
    const report: SnapshotWriteReport = { values: 0, packs: 0, tombstones: 0, deletes: 0, bytes: 0, encodeMs: 0, ms: 0, clean };
    const batch = this.db.batch();
    const layout = this.layout;
    // What this batch changes in the layout, applied once it is on disk.
    const change: LayoutChange = { packs: undefined, loose: [], unloose: [], gone: [] };
    // The final batch is always synced; with `sync`, every batch (durable writes rely on them all).
    const sync = clean || this.options.sync === true;
    // Packs a repack in this batch wrote: stray until the batch commits them.
    const written: PackRange = { first: layout.nextPack, end: layout.nextPack };
    try {
      await this.deleteStray();
      // A bulk pull's hashes go into the digest after its last page: wait for them, or its keys go without.
      await this.ctx.digests?.settled?.();
      const unencodable = new Map<string, unknown>();
      if (!durable && shouldRepack(layout.loose.size, keys.size, this.store.size)) change.packs = await this.repack(batch, report, unencodable, written, sync);
      await this.writeKeys(batch, keys, expired, report, unencodable, change);
      const ctx = this.ctx;
      // "Clean" promises the next run that every write of this writer id is on disk.
      const meta = encodeSnapshotEntry({ type: "meta", ...this.meta(ctx.incarnation, ctx.writerId, clean && unencodable.size === 0, change.packs) });
      batch.put(META_KEY, meta);
      report.bytes += meta.length;
      report.encodeMs = performance.now() - started;
      await batch.write({ sync });
      applyChange(layout, change);
      if (change.packs !== undefined && change.packs.end > change.packs.first) this.writeOut(change.packs);
      report.ms = performance.now() - started;
      this.lastWrite = report;
      this.stats.snapshotWriteCount++;
      if (unencodable.size > 0) this.stats.snapshotFailureCount++;
      return { ok: unencodable.size === 0, unencodable };
    } catch (error) {
      await batch.close().catch(() => undefined); // no-op when write() already closed it
      for (let n = written.first; n < written.end; n++) layout.stray.push(packName(n));
      // Keep the keys for the next interval (they may have been re-added meanwhile: a Set merges).
      for (const k of keys) this.dirty.add(k);
      for (const k of expired) this.expired.add(k);
      this.stats.snapshotFailureCount++;
      const failure = new DurableWriteError(`writing the snapshot in "${this.dir}" failed: ${errorMessage(error)}`, { cause: error });
      this.ctx?.reportError(failure);
      return { ok: false, failure };
    }
  }

  /**
   * The changed keys: tombstones, deletions, and (unless a repack in this batch already wrote every
   * value) loose "v/" entries.
   */
  private async writeKeys(batch: Batch, keys: Set<string>, expired: Set<string>, report: SnapshotWriteReport, unencodable: Map<string, unknown>, change: LayoutChange): Promise<void> {
    const repacked = change.packs !== undefined;
    // Packs that may hold a vanished key's old state (a repack in this batch leaves none).
    const marksGone = !repacked && this.layout.packs.end > this.layout.packs.first;
    const digests = this.ctx?.digests;
    let sliceStart = performance.now();
    let n = 0;
    for (const key of keys) {
      if ((++n & 127) === 0 && performance.now() - sliceStart > SLICE_MS) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
      const v = this.store.get(key);
      if (v !== undefined) {
        if (expired.has(key)) {
          batch.del(TOMBSTONE_PREFIX + key);
          report.deletes++;
        }
        if (repacked) continue;
        let bytes: Uint8Array;
        try {
          const hash = digests?.hashOf(key);
          const digest = hash === undefined || digests === undefined ? undefined : { version: digests.version, hash };
          bytes = encodeSnapshotEntry({ type: "value", key, kind: v.kind, originNode: this.nodeId, value: v.value, digest });
        } catch (error) {
          // One value that cannot be encoded must not stop every other key from being saved
          // (forever: it would fail each retry). It is written again when it next changes.
          unencodable.set(key, error);
          this.ctx?.reportError(error);
          continue;
        }
        batch.put(VALUE_PREFIX + key, bytes);
        change.loose.push(key);
        report.values++;
        report.bytes += bytes.length;
        continue;
      }
      const t = this.store.tombstone(key);
      if (t !== undefined) {
        const bytes = encodeSnapshotEntry({ type: "tombstone", ...t });
        batch.put(TOMBSTONE_PREFIX + key, bytes);
        batch.del(VALUE_PREFIX + key);
        change.unloose.push(key);
        report.tombstones++;
        report.deletes++;
        report.bytes += bytes.length;
      } else {
        // Neither: the tombstone expired (or the key vanished some other way).
        batch.del(VALUE_PREFIX + key);
        batch.del(TOMBSTONE_PREFIX + key);
        change.unloose.push(key);
        report.deletes += 2;
        if (marksGone) {
          batch.put(GONE_PREFIX + key, new Uint8Array(0));
          change.gone.push(key);
        }
      }
    }
  }

  /**
   * Every value into fresh packs, written in batches of their own (`written` grows as they are);
   * the old packs, loose entries and "x/" markers go in `commit`, the batch that commits the new
   * packs. Returns the new packs' numbers.
   */
  private async repack(commit: Batch, report: SnapshotWriteReport, unencodable: Map<string, unknown>, written: PackRange, sync: boolean): Promise<PackRange> {
    const layout = this.layout;
    // Each value's digest hash as the tree holds it now (none for a key awaiting a rehash).
    const digests = this.ctx?.digests;
    const pack = new PackWriter(digests?.version ?? 0);
    let batch = this.db.batch();
    let batchBytes = 0;
    const flushPacks = async (): Promise<void> => {
      const full = batch;
      batch = this.db.batch();
      batchBytes = 0;
      written.end = layout.nextPack; // before the write: a failed one may have left some of them
      await full.write({ sync });
    };
    const close = async (): Promise<void> => {
      const bytes = pack.finish();
      batch.put(packName(layout.nextPack++), bytes);
      report.packs++;
      report.bytes += bytes.length;
      batchBytes += bytes.length;
      if (batchBytes >= PACK_BATCH_BYTES) await flushPacks();
    };
    try {
      let sliceStart = performance.now();
      let n = 0;
      for (const [key, v] of this.store.entries()) {
        if ((++n & 127) === 0 && performance.now() - sliceStart > SLICE_MS) {
          await yieldToLoop();
          sliceStart = performance.now();
        }
        try {
          pack.add(key, v.value, digests?.hashOf(key));
        } catch (error) {
          unencodable.set(key, error);
          this.ctx?.reportError(error);
          continue;
        }
        report.values++;
        if (pack.size >= PACK_BYTES) await close();
      }
      if (pack.count > 0) await close();
      if (batchBytes > 0) await flushPacks();
    } finally {
      await batch.close().catch(() => undefined); // the empty one the last flush left, or one a failure left unwritten
    }
    const old = layout.packs;
    for (let p = old.first; p < old.end; p++) commit.del(packName(p));
    for (const key of layout.loose) commit.del(VALUE_PREFIX + key);
    for (const key of layout.gone) commit.del(GONE_PREFIX + key);
    report.deletes += old.end - old.first + layout.loose.size + layout.gone.size;
    return { first: written.first, end: layout.nextPack };
  }

  /** Delete the packs a repack left without committing them (its own batch: rare, and small). */
  private async deleteStray(): Promise<void> {
    const stray = this.layout.stray;
    if (stray.length === 0) return;
    await this.db.batch(stray.map((key) => ({ type: "del" as const, key })));
    this.layout.stray = [];
  }
}

// ==================================================================== open & restore

/**
 * Make sure `given` is a usable directory: create it if only the leaf is missing; refuse a file,
 * a missing parent, an unwritable place, or a non-empty directory that is not a LevelDB.
 */
async function prepareDirectory(given: string): Promise<string> {
  const dir = resolve(given);
  const where = dir === given ? `"${given}"` : `"${given}" (${dir})`;
  const info = await stat(dir).catch((e: NodeJS.ErrnoException) => e);
  if (info instanceof Error) {
    if (info.code === "ENOTDIR") throw new ConfigError(`snapshot.dir ${where} is not a directory: a part of the path is a file`, { cause: info });
    if (info.code !== "ENOENT") throw new ConfigError(`snapshot.dir ${where} cannot be used: ${info.message}`, { cause: info });
    const parent = dirname(dir);
    const p = await stat(parent).catch((e: NodeJS.ErrnoException) => e);
    if (p instanceof Error) {
      throw new ConfigError(
        p.code === "ENOENT"
          ? `snapshot.dir ${where}: its parent directory "${parent}" does not exist (only the last path element is created)`
          : `snapshot.dir ${where}: its parent directory "${parent}" cannot be used: ${p.message}`,
        { cause: p },
      );
    }
    if (!p.isDirectory()) throw new ConfigError(`snapshot.dir ${where}: its parent "${parent}" is not a directory`);
    try {
      await access(parent, constants.W_OK | constants.X_OK);
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new ConfigError(`snapshot.dir ${where} does not exist and cannot be created in "${parent}": ${errorMessage(e)}`, { cause: e });
      }
    }
    return dir;
  }
  if (!info.isDirectory()) throw new ConfigError(`snapshot.dir ${where} is a file, not a directory`);
  try {
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new ConfigError(`snapshot.dir ${where} is not readable and writable by this process: ${errorMessage(e)}`, { cause: e });
  }
  const names = await readdir(dir);
  if (names.length > 0 && !names.includes("CURRENT")) {
    throw new ConfigError(
      `snapshot.dir ${where} is not empty and holds no LevelDB (no CURRENT file); give a new or empty directory, or move the damaged one away`,
    );
  }
  return dir;
}

function openError(given: string, dir: string, error: unknown): ConfigError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause ?? (error as { code?: string; message?: string });
  const where = dir === given ? `"${given}"` : `"${given}" (${dir})`;
  if (cause.code === "LEVEL_LOCKED") {
    return new ConfigError(`snapshot.dir ${where} is in use by another process or replicator (LevelDB lock held); every node needs its own directory`, { cause: error });
  }
  if (cause.code === "LEVEL_CORRUPTION") {
    return new ConfigError(
      `snapshot.dir ${where} is corrupt (${cause.message}); move it away to start empty — the node then fetches its data from its peers`,
      { cause: error },
    );
  }
  return new ConfigError(`snapshot.dir ${where}: LevelDB failed to open: ${cause.message ?? errorMessage(error)}`, { cause: error });
}

/**
 * Read every entry into the store; corrupt ones are skipped and counted. By prefix, in the order the
 * precedence needs (see the layout above): tombstones, "x/" markers, loose values, then packs.
 */
async function restoreInto(db: Db, target: RestoreTarget, nodeId: string): Promise<{ report: RestoreReport; stale: string[]; layout: Layout }> {
  const started = performance.now();
  const report: RestoreReport = { values: 0, tombstones: 0, skipped: 0, ms: 0, previous: undefined, writerIdReused: false };
  const layout: Layout = { packs: { first: 0, end: 0 }, stray: [], loose: new Set(), gone: new Set(), nextPack: 0 };
  const store = target.store;
  const skip = (): void => {
    report.skipped++;
    target.stats.snapshotSkippedEntries++;
  };
  const stale: string[] = [];
  const decoded = (bytes: Uint8Array): SnapshotEntry | undefined => {
    try {
      return decodeSnapshotEntry(bytes);
    } catch {
      skip();
      return undefined;
    }
  };

  const meta = await db.get(META_KEY);
  if (meta !== undefined) {
    const e = decoded(meta);
    if (e?.type === "meta") report.previous = e;
    else if (e !== undefined) skip();
  }
  // Tables sized once for what the last write held, not grown key by key (bounded: the disk is ours, but a bad number must not take the heap).
  const expected = Math.min(report.previous?.values ?? 0, MAX_RESERVE);
  await forEachEntry(db, under(TOMBSTONE_PREFIX), RESTORE_CHUNK, (k, bytes) => {
    const e = decoded(bytes);
    if (e === undefined) return;
    if (e.type !== "tombstone" || TOMBSTONE_PREFIX + e.key !== k) skip();
    else if (store.addTombstone({ key: e.key, kind: e.kind, deletedAtMs: e.deletedAtMs, originNode: e.originNode }, "restore")) report.tombstones++;
  });
  await forEachEntry(db, under(GONE_PREFIX), RESTORE_CHUNK, (k) => void layout.gone.add(k.slice(GONE_PREFIX.length)));
  // A value (loose or packed) of a key that has a tombstone: the tombstone wins, drop the value at the next write.
  // (Lookups skipped when there is nothing to find: a restore of a repacked store does a million.)
  const tombstones = store.tombstoneCount > 0;
  const deleted = (key: string): boolean => {
    if (!tombstones || store.tombstone(key) === undefined) return false;
    stale.push(key);
    return true;
  };
  const seeds = target.digests;
  // A loose entry's hash (one bigint each: loose entries are at most an eighth of the store).
  const loneHash = new DataView(new ArrayBuffer(8));
  const putLoose = (key: string, kind: DataKind, value: Crdt, d: StoredDigestHash | undefined): void => {
    if (deleted(key)) return;
    store.set(key, kind, value, "restore");
    const seeded = d !== undefined && d.version === seeds?.version;
    if (seeded) loneHash.setBigUint64(0, d.hash, true);
    seeds?.restored(key, seeded ? loneHash : undefined, 0);
    report.values++;
  };
  await forEachEntry(db, under(VALUE_PREFIX), RESTORE_CHUNK, (k, bytes) => {
    const key = k.slice(VALUE_PREFIX.length);
    layout.loose.add(key);
    // The common entry, a value, without the generic decoder's intermediate objects; anything
    // unusual (or corrupt) takes the generic path, which decides.
    const fast = fastValue(key, bytes);
    if (fast !== undefined) return putLoose(key, fast.kind, fast.value, fast.digest);
    const e = decoded(bytes);
    if (e === undefined) return;
    if (e.type !== "value" || e.key !== key) skip();
    else putLoose(key, e.kind, e.value, e.digest);
  });
  // Keys whose packed state a loose entry or a marker replaces and the store does not hold: one
  // lookup per packed value when there are any (a loose value restored wins by itself: it is in
  // the store before the packs, and a restore's first value of a key stays, see setDeferred).
  const newer = supersededKeys(layout, store);
  // A packed value of a loose entry's key is put in too, and dropped only when indexed: room for both.
  const entries = Math.min(expected + layout.loose.size, MAX_RESERVE);
  // Each table's fresh memory costs page faults: one pause each (~1 s at ten million keys), not all in one.
  store.reserve(entries);
  await yieldToLoop();
  seeds?.reserve(entries);
  await yieldToLoop();
  const packed = new PackedValues(() => target.stats.snapshotSkippedEntries++, expected);
  store.deferTo(packed);
  const packedFrom = seeds?.count ?? 0;
  // Packed values of keys restored before them (from a loose entry) are not taken: the seeds' numbers of those.
  const dropped: number[] = [];
  // The packs the meta names (every pack, for a meta before it); others are a crashed repack's.
  const committed = report.previous?.packs;
  const found = { first: Infinity, end: 0 };
  const packs = committed === undefined ? under(PACK_PREFIX) : { gte: packName(committed.first), lt: packName(committed.end) };
  await forEachEntry(db, packs, RESTORE_PACK_CHUNK, (k, bytes) => {
    const number = packNumber(k);
    if (number === undefined) {
      layout.stray.push(k);
      return skip();
    }
    found.first = Math.min(found.first, number);
    found.end = Math.max(found.end, number + 1);
    try {
      readPack(bytes, seeds?.version ?? 0, (key, type, pack, start, end, hashes, hashAt) => {
        // A loose entry or a marker is newer than the pack (a key corrupt in "v/" stays skipped).
        if (newer !== undefined && newer.has(key)) return;
        try {
          kindOf(type);
        } catch {
          skip();
          return;
        }
        if (deleted(key)) return;
        // Decoded on first read or by the background settle (see Snapshots.open); value n is the
        // (packedFrom + n)-th the digest seeds were given.
        store.setDeferred(key, packed.add(pack, type, start, end));
        seeds?.restored(key, hashes, hashAt);
        report.values++;
      });
    } catch {
      skip(); // the whole pack: its keys come back from the peers
    }
    // Indexed a pack at a time: ten million keys in one go would hold the event loop for seconds.
    for (const n of store.indexRestored()) dropped.push(packedFrom + n);
  });
  report.values -= dropped.length;
  seeds?.dropped(dropped);
  layout.packs = committed ?? (found.end > 0 ? found : { first: 0, end: 0 });
  layout.nextPack = layout.packs.end;
  if (committed !== undefined) {
    for (const outside of [{ gte: PACK_PREFIX, lt: packName(committed.first) }, { gte: packName(committed.end), lt: prefixEnd(PACK_PREFIX) }]) {
      for await (const k of db.keys(outside)) layout.stray.push(k);
    }
  }
  // Never a name again that a stray pack has: a later meta's range must not take it in.
  for (const k of layout.stray) layout.nextPack = Math.max(layout.nextPack, (packNumber(k) ?? -1) + 1);
  const prev = report.previous;
  if (prev !== undefined && prev.cleanShutdown && prev.node === nodeId && prev.writerId !== "") {
    target.writerId = prev.writerId;
    report.writerIdReused = true;
  }
  report.ms = performance.now() - started;
  return { report, stale, layout };
}

/**
 * The keys whose packed value a loose entry or a marker replaces and the store does not hold (a
 * marker's, or a loose entry's that was corrupt or lost to a tombstone); undefined: none (usual).
 */
function supersededKeys(layout: Layout, store: RestorableStore): ReadonlySet<string> | undefined {
  const { loose, gone } = layout;
  let out: Set<string> | undefined = gone.size === 0 ? undefined : new Set(gone);
  for (const k of loose) if (!store.holds(k)) (out ??= new Set()).add(k);
  return out;
}

/** The LevelDB keys that start with `prefix`. */
function under(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: prefixEnd(prefix) };
}

/** Every entry in `range`, in key order; LevelDB reads the next chunk off the main thread while one is handled. */
async function forEachEntry(db: Db, range: { gte: string; lt: string }, chunk: number, fn: (key: string, bytes: Uint8Array) => void): Promise<void> {
  // Read once: not worth LevelDB's block cache (a 1 M-key restore would only churn it).
  const it = db.iterator({ ...range, fillCache: false });
  let reading = it.nextv(chunk);
  try {
    for (;;) {
      const entries = await reading;
      if (entries.length === 0) break;
      reading = it.nextv(chunk);
      for (const [k, bytes] of entries) fn(k, bytes);
    }
  } finally {
    await reading.catch(() => undefined);
    await it.close();
  }
}

/** A value entry read by the fast path, validated as its type; undefined leaves it to the generic path. */
function fastValue(key: string, bytes: Uint8Array): { kind: DataKind; value: Crdt; digest: StoredDigestHash | undefined } | undefined {
  const parts = snapshotValueOf(key, bytes);
  if (parts === undefined) return undefined;
  try {
    const kind = kindOf(parts.type);
    return { kind, value: decodeValue(kind, parts.data), digest: parts.digest };
  } catch {
    return undefined;
  }
}
