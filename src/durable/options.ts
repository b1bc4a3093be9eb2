/** The `snapshot` option of `Replicator.start`: its type, defaults and validation. */
import { ConfigError } from "../errors.js";
import { flag, positive } from "../extension/option-checks.js";

export interface SnapshotOptions {
  /** LevelDB directory. Created if missing; its parent must exist and be writable. */
  dir: string;
  /** How often changed keys are written. Default 10 s. */
  intervalMs?: number;
  /**
   * Write-through: every update and delete resolves only once its change is in LevelDB (a call's
   * `durable` option overrides it). Concurrent writes share one LevelDB batch. Default false
   * (write-behind: changes reach LevelDB at the next interval).
   */
  writeThrough?: boolean;
  /**
   * fsync every LevelDB batch, so a durable write survives an OS crash or power loss too, not only
   * a crash of the process. Costs one disk flush per batch. Default false.
   */
  sync?: boolean;
}

export const SNAPSHOT_DEFAULTS = { intervalMs: 10_000, writeThrough: false, sync: false } as const;

export function resolveSnapshotOptions(o: SnapshotOptions): Required<SnapshotOptions> {
  if (typeof o.dir !== "string" || o.dir === "") throw new ConfigError("snapshot.dir must be a directory path");
  return {
    dir: o.dir,
    intervalMs: positive("snapshot.intervalMs", o.intervalMs, SNAPSHOT_DEFAULTS.intervalMs),
    writeThrough: flag("snapshot.writeThrough", o.writeThrough, SNAPSHOT_DEFAULTS.writeThrough),
    sync: flag("snapshot.sync", o.sync, SNAPSHOT_DEFAULTS.sync),
  };
}
