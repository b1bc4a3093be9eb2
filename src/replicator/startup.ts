/**
 * What happens before the Replicator exists, in this order: restore the snapshot (the node
 * publishes and answers nothing until its data is back), connect, claim the node id and choose an
 * incarnation above every earlier one (identity.ts); and, once the core runs, attach the
 * extensions its options ask for. On failure, whatever was opened is closed again, so a retry of
 * `start` can open the same LevelDB directory.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { chooseIncarnation, chooseStartedAt } from "../cluster/incarnations.js";
import type { Departure, ExpectedMember } from "../cluster/membership.js";
import { Snapshots, type SnapshotHandle } from "../durable/snapshots.js";
import { ConfigError } from "../errors.js";
import type { Extension, ReplicatorContext } from "../extension/context.js";
import { ReplicatorStats } from "../extension/stats.js";
import { attachMetrics } from "../metrics/metrics.js";
import { connectNats, NatsTransport } from "../transport/nats.js";
import { PAYLOAD_HEADROOM, type Transport } from "../transport/types.js";
import { prepareCodecs } from "../wire/codec.js";
import { CrossDcReplication } from "../xdc/replication.js";
import { claimIdentity, lastIncarnationInProcess, reserveIncarnation } from "./identity.js";
import { resolveOptions, type ReplicatorOptions, type ResolvedOptions } from "./options.js";
import { nodeSubject, secureBus } from "./parts.js";
import { Store } from "./store.js";
import { RestoredDigest } from "./store-digest.js";

/** What a starting node restores from its snapshot. */
export interface Restored {
  store: Store;
  stats: ReplicatorStats;
  /** The writer id of a cleanly closed previous run, safe to reuse; undefined otherwise. */
  writerId: string | undefined;
  /** The digest hashes the snapshot stored with the values (the digest tree starts from them). */
  digests: RestoredDigest;
}

/** What a starting node takes from its peers' answers (see identity.ts). */
export interface Claimed {
  incarnation: number;
  startedAtMs: number;
  expected: ExpectedMember[];
  /** Leaves the members remember (see MembershipTable.inheritLeaves). */
  inheritedLeaves: Departure[];
}

/** Everything the Replicator's constructor needs. */
export interface Prepared {
  options: ResolvedOptions;
  /** The bus, already wrapped by the security layer when the options ask for it. */
  transport: Transport;
  /** A transport we built is ours to close, also around a borrowed NATS connection. */
  ownsTransport: boolean;
  /** The NATS connection under the transport; undefined on a given transport (in-memory). */
  natsConnection: NatsConnection | undefined;
  restored: Restored;
  claimed: Claimed;
  snapshots: Snapshots | undefined;
}


export async function prepare(options: ReplicatorOptions): Promise<Prepared> {
  const resolved = resolveOptions(options);
  // Now, not at the first anti-entropy round amid traffic (see prepareCodecs).
  prepareCodecs();
  const restored: Restored = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined, digests: new RestoredDigest() };
  const snapshots = resolved.snapshot === undefined ? undefined : await Snapshots.open(resolved.snapshot, restored, resolved.nodeId);
  let transport: Transport;
  // Closing a wrapper we built around a borrowed connection drains our subscriptions and leaves
  // the connection itself open.
  let ownsTransport = true;
  if (options.transport !== undefined) {
    transport = options.transport;
    ownsTransport = false;
  } else {
    transport = await connectNats(options.nats as Parameters<typeof connectNats>[0]).catch(async (error: unknown) => {
      await snapshots?.close();
      throw error;
    });
  }
  // The JetStream primitives share the NATS connection, also under a NATS transport handed in (the daemon's).
  const natsConnection: NatsConnection | undefined = transport instanceof NatsTransport ? transport.connection : undefined;
  transport = secureBus(transport, resolved, restored.stats);
  try {
    if (transport.maxPayload < 4 * PAYLOAD_HEADROOM) {
      throw new ConfigError(`the bus's max payload (${transport.maxPayload} bytes) is too small; allow at least 4 KiB`);
    }
    // Before subscribing to anything: is the node id free, and which incarnation is above every
    // earlier one (see identity.ts)?
    const { subject, nodeId, clock } = resolved;
    const learned = await claimIdentity({ transport, subject, nodeId, nodeSubject: nodeSubject(subject, nodeId), clock });
    if (learned.holderCheckTimedOut) restored.stats.identityCheckTimeouts++;
    const previous = snapshots?.restore.previous;
    const incarnation = chooseIncarnation({
      wallMs: clock.now(),
      persisted: previous?.node === nodeId ? previous.incarnation : 0,
      learned: learned.incarnation,
      lastInProcess: lastIncarnationInProcess(),
    });
    reserveIncarnation(incarnation);
    const claimed = { incarnation, startedAtMs: chooseStartedAt(clock.now(), learned.youngestStartedAtMs), expected: learned.members, inheritedLeaves: learned.left };
    await snapshots?.recordIncarnation(incarnation);
    return { options: resolved, transport, ownsTransport, natsConnection, restored, claimed, snapshots };
  } catch (error) {
    await snapshots?.close();
    if (ownsTransport) await transport.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Attach the extensions (snapshots, metrics, cross-DC) to a running core; `extensions` receives
 * each as soon as it is attached, so the caller can close what was attached if a later one fails.
 */
export async function attachExtensions(
  context: ReplicatorContext,
  prepared: Prepared,
  options: ReplicatorOptions,
  extensions: Extension[],
): Promise<SnapshotHandle | undefined> {
  let snapshot: SnapshotHandle | undefined;
  if (prepared.snapshots !== undefined) extensions.push((snapshot = prepared.snapshots.attach(context)));
  extensions.push(attachMetrics(context, options.meterProvider));
  const xdc = prepared.options.dataCenterReplication;
  if (xdc !== undefined) extensions.push(await CrossDcReplication.start(context, xdc));
  return snapshot;
}
