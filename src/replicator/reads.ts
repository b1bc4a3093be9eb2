/**
 * Reads on this node (`get`): the local value checked against the key's type, and coordinated reads
 * (`readFrom`) that merge what the members answer first ("read repair"), then read locally.
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import { KeyTypeMismatchError } from "../errors.js";
import type { KeyStatus, ReadOptions } from "./api.js";
import type { Coordinator } from "./coordination.js";
import type { Key } from "./keys.js";
import type { Merger } from "./merge.js";
import type { Store } from "./store.js";

/** The stored value of `key`, checked against the key's type. */
export function typedValue<T extends Crdt<T>>(store: Pick<Store, "value">, key: Key<T>): T | undefined {
  const v = store.value(key.id);
  if (v === undefined) return undefined;
  const valueKind = (v as { valueKind?: string }).valueKind;
  if (v.kind !== key.kind || (key.valueKind !== undefined && valueKind !== key.valueKind)) {
    throw new KeyTypeMismatchError(
      `key "${key.id}" holds a ${v.kind}${valueKind ? `<${valueKind}>` : ""}, not a ${key.kind}${key.valueKind ? `<${key.valueKind}>` : ""}; use Key.${v.kind}("${key.id}")`,
    );
  }
  return v as T;
}

/** The data type an untyped read request names (any would do: see `untyped`). */
const ANY_KIND: DataKind = "flag";

export interface ReaderDeps {
  nodeId: string;
  store: Pick<Store, "value" | "tombstone">;
  merger: Pick<Merger, "tombstone" | "value">;
  coordinator: Pick<Coordinator, "read">;
  coordinationTimeoutMs: number;
}

export class Reader {
  constructor(private readonly deps: ReaderDeps) {}

  /** The local value of `key` (synchronous). */
  local<T extends Crdt<T>>(key: Key<T>): T | undefined {
    return typedValue(this.deps.store, key);
  }

  /** Whether this replica holds a value of `key` (checked against its type), its tombstone, or neither. */
  status<T extends Crdt<T>>(key: Key<T>): KeyStatus {
    if (typedValue(this.deps.store, key) !== undefined) return "present";
    return this.deps.store.tombstone(key.id) !== undefined ? "deleted" : "absent";
  }

  /** Read `key` from `options.readFrom` members, merging their answers, then return the local value. */
  async coordinated<T extends Crdt<T>>(key: Key<T>, options: ReadOptions): Promise<T | undefined> {
    await this.ask(key.id, key.kind, options);
    return this.local(key);
  }

  /**
   * Read the key id `id` whatever its type: members answer with the value they hold, of its type
   * (a read request's data type is not consulted by the answering node), merged here as it comes.
   */
  async untyped(id: string, options: ReadOptions): Promise<void> {
    await this.ask(id, ANY_KIND, options);
  }

  private async ask(id: string, kind: DataKind, options: ReadOptions): Promise<void> {
    const d = this.deps;
    const level = options.readFrom;
    if (level !== "local") {
      await d.coordinator.read(
        { type: "read", from: d.nodeId, key: id, kind },
        level,
        options.timeoutMs ?? d.coordinationTimeoutMs,
        (reply) => {
          if (reply.tombstone !== undefined) d.merger.tombstone(reply.tombstone, "sync");
          else if (reply.state !== undefined) d.merger.value(reply.state, "sync");
        },
      );
    }
  }
}
