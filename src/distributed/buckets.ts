/**
 * The JetStream KV buckets of the coordination primitives: one per kind (locks, semaphores,
 * barriers), named after the replicator's subject so two deployments on one NATS do not share
 * them. Created on first use with history 1 (only the latest entry matters) and opened as they
 * are when they exist.
 */
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigError, errorMessage } from "../errors.js";

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

export async function openBucket(nc: NatsConnection, subject: string, kind: PrimitiveKind, options: BucketOptions): Promise<KV> {
  const replicas = options.replicas ?? (nc.info?.cluster === undefined ? 1 : 3);
  try {
    return await new Kvm(nc).create(bucketName(subject, kind), { history: 1, replicas, maxValueSize: 512 * 1024 });
  } catch (error) {
    throw new ConfigError(`could not open the JetStream KV bucket for ${kind} (${errorMessage(error)}): the NATS server must run with JetStream (nats-server -js), with ${replicas} replica(s) possible`, { cause: error });
  }
}
