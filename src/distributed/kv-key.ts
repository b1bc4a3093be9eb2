/**
 * One key of a JetStream KV bucket as the coordination primitives use it: read with its revision,
 * write only if the revision is still the one read (compare-and-set), watch for changes. Values
 * are untrusted: an entry that does not decode reads as "no value" (at its revision, so the next
 * write replaces it) and is counted.
 */
import type { KV } from "@nats-io/kv";

/** A value and the KV revision it was read at (0: the key has never been written). */
export interface Versioned<T> {
  readonly value: T | undefined;
  readonly revision: number;
}

/** JetStream's "wrong last sequence": someone wrote the key since we read it. */
const WRONG_LAST_SEQUENCE = 10071;

export function isConflict(error: unknown): boolean {
  return (error as { code?: unknown }).code === WRONG_LAST_SEQUENCE;
}

/** Key names: any string up to 256 bytes, spelled in the KV key alphabet (base64url). */
export function kvKeyOf(name: string): string {
  return Buffer.from(name, "utf8").toString("base64url");
}

export class KvKey<T> {
  /** Entries that did not decode. */
  rejected = 0;

  constructor(
    private readonly bucket: () => Promise<KV>,
    readonly key: string,
    private readonly decode: (bytes: Uint8Array) => T | undefined,
  ) {}

  async read(): Promise<Versioned<T>> {
    const e = await (await this.bucket()).get(this.key);
    if (e === null) return { value: undefined, revision: 0 };
    return { value: e.operation === "PUT" ? this.decoded(e.value) : undefined, revision: e.revision };
  }

  /** Write `bytes` if the key is still at `revision`: the new revision, or "conflict". */
  async write(bytes: Uint8Array, revision: number): Promise<number | "conflict"> {
    try {
      const kv = await this.bucket();
      return revision === 0 ? await kv.create(this.key, bytes) : await kv.update(this.key, bytes, revision);
    } catch (error) {
      if (isConflict(error)) return "conflict";
      throw error;
    }
  }

  /** Call `onChange` with every new version of the key until the returned stop is called. */
  async watch(onChange: (v: Versioned<T>) => void): Promise<() => void> {
    const it = await (await this.bucket()).watch({ key: this.key, include: "updates" });
    void (async () => {
      try {
        for await (const e of it) onChange({ value: e.operation === "PUT" ? this.decoded(e.value) : undefined, revision: e.revision });
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
