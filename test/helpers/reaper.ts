/**
 * Child processes of a test helper, killed by PID (SIGKILL) when the test process exits, even if a
 * test forgot to stop them or failed half-way, or the test process itself is interrupted.
 */
import type { ChildProcess } from "node:child_process";

export interface Reaper {
  /** The children still to kill; add each one right after spawning it, delete it once it exited. */
  readonly children: Set<ChildProcess>;
  /** Install the exit and signal hooks (once; later calls do nothing). */
  installHooks(): void;
  /** Kill every child still running now (by PID), then run `cleanup`. */
  killAll(): void;
}

/** A set of children to kill at exit; `cleanup` runs after the kill (e.g. removes temp dirs). */
export function reaper(cleanup: () => void): Reaper {
  const children = new Set<ChildProcess>();
  let hooksInstalled = false;

  function killAllNow(): void {
    for (const c of children) {
      try {
        if (c.pid !== undefined) process.kill(c.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    children.clear();
    cleanup();
  }

  function installHooks(): void {
    if (hooksInstalled) return;
    hooksInstalled = true;
    process.on("exit", killAllNow);
    // 'exit' does not run when the process dies of a signal: kill the children, then die of it anyway.
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const onSignal = (): void => {
        killAllNow();
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }

  return { children, installHooks, killAll: killAllNow };
}
