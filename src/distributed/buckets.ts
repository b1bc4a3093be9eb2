/**
 * The JetStream KV buckets of the coordination primitives: one per kind (locks, semaphores,
 * barriers), named after the replicator's subject so two deployments on one NATS do not share
 * them. Created on first use with history 1 (only the latest entry matters) and opened as they
 * are when they exist. Reads go to the stream leader (no direct gets from replicas): a
 * replica may lag, and a read that lags only costs a failed compare-and-set, but direct gets on a
 * replicated bucket were also seen to time out.
 */
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigError, errorMessage } from "../errors.js";
import { CasWriter } from "./cas-writer.js";
import { isTimeout, retried, type CasMode, type OpenBucket } from "./kv-key.js";

export type PrimitiveKind = "locks" | "semaphores" | "barriers";

export interface BucketOptions {
  /**
   * JetStream replicas of the bucket when this call creates it (default 1 on a single server, 3
   * when the server reports a cluster). An existing bucket is used as it is.
   */
  replicas?: number;
}

/** A KV bucket name (letters, digits, `-`, `_`) for `kind` under `subject`. */
export function bucketName(subject: string, kind: PrimitiveKind): string {
  return `${subject.replace(/[^A-Za-z0-9_-]/g, "_")}-${kind}`;
}

/**
 * How compare-and-set works on this server (kv-key.ts): per key, unless the server is clustered
 * and older than 2.10, whose per-key check is not serializable (nats-server issue #4320).
 */
export function casModeFor(info: { cluster?: string; version?: string } | undefined): CasMode {
  if (info?.cluster === undefined) return "subject";
  const [major = 0, minor = 0] = (info.version ?? "0.0").split(".").map((p) => Number.parseInt(p, 10));
  return major > 2 || (major === 2 && minor >= 10) ? "subject" : "stream";
}

/**
 * The errors of a JetStream cluster still starting (no meta leader yet, peers not yet known), worth
 * asking again; "no responders" (no JetStream at all) fails at once.
 */
function startingUp(error: unknown): boolean {
  return isTimeout(error) || /no suitable peers/i.test(String((error as { message?: unknown }).message));
}

export async function openBucket(nc: NatsConnection, subject: string, kind: PrimitiveKind, options: BucketOptions): Promise<OpenBucket> {
  const replicas = options.replicas ?? (nc.info?.cluster === undefined ? 1 : 3);
  try {
    const kv = await retried(() => new Kvm(nc).create(bucketName(subject, kind), { history: 1, replicas, maxValueSize: 512 * 1024, allow_direct: false }), 12, startingUp);
    return { kv, cas: casModeFor(nc.info), writer: () => CasWriter.of(nc) };
  } catch (error) {
    throw new ConfigError(`could not open the JetStream KV bucket for ${kind} (${errorMessage(error)}): the NATS server must run with JetStream (nats-server -js), with ${replicas} replica(s) possible`, { cause: error });
  }
}
