/**
 * One key of a JetStream KV bucket as the coordination primitives use it: read with its revision,
 * write only if nothing changed since the read (compare-and-set), watch for changes. Values are
 * untrusted: an entry that does not decode reads as "no value" (at its revision, so the next write
 * replaces it) and is counted.
 *
 * Two ways to compare-and-set, chosen per bucket (buckets.ts):
 * - `subject`: the KV's own revision-checked update (Nats-Expected-Last-Subject-Sequence);
 * - `stream`: Nats-Expected-Last-Sequence on the bucket's whole stream. Clustered servers before
 *   2.10 check the per-subject expectation only against what replicas have applied, so two writes
 *   in flight from the same revision may both succeed (nats-server issue #4320); the stream-level
 *   expectation is checked against the leader's proposals and stays serializable. Its price: a
 *   write to any other key of the bucket also fails the check (the writer re-reads and retries).
 * Both are written through cas-writer.ts: the same request with the same header as the KV API's,
 * at a fraction of its client CPU.
 */
import { PubHeaders } from "@nats-io/jetstream";
import { Bucket, type KV } from "@nats-io/kv";
import { headers } from "@nats-io/transport-node";
import type { CasTarget, CasWriter } from "./cas-writer.js";

/** A value and the KV revision it was read at (0: the key has never been written). */
export interface Versioned<T> {
  readonly value: T | undefined;
  /** The key's revision: fencing tokens and lease sightings are built on it. */
  readonly revision: number;
  /** What a compare-and-set from this read expects: the key's revision, or the stream's last sequence. */
  readonly cas: number;
}

export type CasMode = "subject" | "stream";

/** JetStream's "wrong last sequence": someone wrote since we read. */
const WRONG_LAST_SEQUENCE = 10071;

export function isConflict(error: unknown): boolean {
  return (error as { code?: unknown }).code === WRONG_LAST_SEQUENCE;
}

/** A request that may succeed if repeated: no answer in time, or a stream between leaders. */
export function isTransient(error: unknown): boolean {
  const { name, message, code } = error as { name?: unknown; message?: unknown; code?: unknown };
  return name === "TimeoutError" || code === 503 || /timeout|no responders|not (yet )?ready|no suitable peers|leader/i.test(String(message));
}

/** No answer in time (a fresh JetStream cluster before its leaders are elected). */
export function isTimeout(error: unknown): boolean {
  const { name, message } = error as { name?: unknown; message?: unknown };
  return name === "TimeoutError" || /timeout/i.test(String(message));
}

/** Attempts of one request through a JetStream hiccup (a leader election takes a few seconds). */
const ATTEMPTS = 8;
const RETRY_DELAY_MS = 250;

/** Key names: any string up to 256 bytes, spelled in the KV key alphabet (base64url). */
export function kvKeyOf(name: string): string {
  return Buffer.from(name, "utf8").toString("base64url");
}

/** An opened bucket, how writes to it compare-and-set, and its connection's writer (looked up per write: a closed one is replaced). */
export interface OpenBucket {
  readonly kv: KV;
  readonly cas: CasMode;
  readonly writer: () => CasWriter;
}

/** What every write of one key shares: the bucket, where to publish, and which header to set. */
interface Writing {
  readonly bucket: OpenBucket;
  readonly target: CasTarget;
  readonly header: string;
}

export class KvKey<T> {
  /** Entries that did not decode, and answers to writes that were not acks. */
  rejected = 0;
  private writing: Writing | undefined;

  constructor(
    private readonly bucket: () => Promise<OpenBucket>,
    readonly key: string,
    private readonly decode: (bytes: Uint8Array) => T | undefined,
  ) {}

  async read(): Promise<Versioned<T>> {
    const { kv, cas } = await this.bucket();
    for (;;) {
      // Stream mode: the stream's last sequence first, then the key; if the key is no newer than
      // that sequence, the read is the state as of it (a later write would show in the key).
      const last = cas === "stream" ? await retried(async () => (await bucketOf(kv).jsm.streams.info(bucketOf(kv).stream)).state.last_seq) : 0;
      const e = await retried(() => kv.get(this.key));
      const revision = e?.revision ?? 0;
      if (cas === "stream" && revision > last) continue;
      const value = e !== null && e.operation === "PUT" ? this.decoded(e.value) : undefined;
      return { value, revision, cas: cas === "stream" ? last : revision };
    }
  }

  /**
   * Write `bytes` if nothing changed since `base` was read: the new revision (which is also the
   * `cas` of a read of it), or "conflict". A
   * write that timed out may or may not have landed: it reads as a conflict, so the caller re-reads.
   */
  async write(bytes: Uint8Array, base: Versioned<T>): Promise<number | "conflict"> {
    const w = this.writing ?? (await this.prepareWrites());
    // The subject check expects the key's revision (0: the key must not exist), the stream check
    // the stream's last sequence as of the read.
    const after = w.bucket.cas === "stream" ? base.cas : base.revision;
    w.target.headers.set(w.header, String(after));
    try {
      return await w.bucket.writer().publish(bytes, w.target, after);
    } catch (error) {
      if (isConflict(error)) return "conflict";
      if (isTransient(error)) {
        await delay(RETRY_DELAY_MS);
        return "conflict";
      }
      throw error;
    }
  }

  /** The bucket, once open, and this key's subject and header, computed once. */
  private async prepareWrites(): Promise<Writing> {
    const bucket = await this.bucket();
    const b = bucketOf(bucket.kv);
    b.validateKey(this.key);
    const stream = bucket.cas === "stream";
    this.writing ??= {
      bucket,
      target: {
        // What `js.publish` (stream mode) and `kv.update` (subject mode) published to.
        subject: stream ? b.fullKeyName(this.key) : b.subjectForKey(b.encodeKey(this.key), true),
        stream: b.stream,
        headers: headers(),
        rejected: () => this.rejected++,
      },
      header: stream ? PubHeaders.ExpectedLastSeqHdr : PubHeaders.ExpectedLastSubjectSequenceHdr,
    };
    return this.writing;
  }

  /** Call `onChange` with every new version of the key until the returned stop is called. */
  async watch(onChange: (v: Versioned<T>) => void): Promise<() => void> {
    const { kv } = await this.bucket();
    const it = await kv.watch({ key: this.key, include: "updates" });
    void (async () => {
      try {
        for await (const e of it) {
          const value = e.operation === "PUT" ? this.decoded(e.value) : undefined;
          // In stream mode `cas` may be stale (another key written since): the write then re-reads.
          onChange({ value, revision: e.revision, cas: e.revision });
        }
      } catch {
        // the watch ended (connection closed); the fallback poll carries on
      }
    })();
    return () => it.stop();
  }

  private decoded(bytes: Uint8Array): T | undefined {
    const v = this.decode(bytes);
    if (v === undefined) this.rejected++;
    return v;
  }
}

function bucketOf(kv: KV): Bucket {
  return kv as Bucket;
}

/** `request`, repeated through transient errors, `attempts` times at most with a growing pause. */
export async function retried<R>(request: () => Promise<R>, attempts = ATTEMPTS, transient: (error: unknown) => boolean = isTransient): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= attempts || !transient(error)) throw error;
      await delay(RETRY_DELAY_MS * attempt);
    }
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
