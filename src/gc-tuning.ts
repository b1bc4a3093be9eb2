/**
 * One process-wide V8 setting for processes that hold a large replica.
 *
 * V8 13.6 (Node 24) made the young generation so large that the scavenge it runs for short-lived
 * ArrayBuffers now starts only after 128 MB of them, past the fixed 64 MB external-memory limit
 * that starts an incremental marking of the *whole* heap (nodejs/node#61967, #63863). Every
 * envelope, catch-up page and socket read is such a Buffer, so a node holding 10 M keys (~1.4 GB of
 * heap) marked all of it every ~0.85 s while serving a catch-up, and the catch-up took twice as
 * long as on Node 20. Counting external memory inside V8's global heap limit, which upstream V8
 * has since turned on by default, takes that path away: the Buffers die in scavenges again.
 */
import { setFlagsFromString } from "node:v8";

/** The first V8 with the 128 MB young-ArrayBuffer trigger (Node 24.0.0). */
const AFFECTED_FROM: readonly [number, number] = [13, 6];

/** Whether this V8 (`process.versions.v8`, e.g. "13.6.233.17-node.53") has the regression. */
export function hasBufferMarkingRegression(v8Version: string): boolean {
  const [major = 0, minor = 0] = v8Version.split(".").map((p) => Number.parseInt(p, 10));
  return major > AFFECTED_FROM[0] || (major === AFFECTED_FROM[0] && minor >= AFFECTED_FROM[1]);
}

let applied = false;

/**
 * Makes V8 reclaim short-lived Buffers with scavenges rather than whole-heap markings, on the Node
 * lines that need it (24 and later; 22 and earlier behave so already). Process-wide and
 * irreversible: call it once, early, in a process whose heap will be large (the `crdt-node` daemon
 * does). The library never calls it for you. Returns whether it changed V8's settings.
 */
export function tuneGarbageCollection(): boolean {
  if (applied) return false;
  if (!hasBufferMarkingRegression(process.versions.v8)) return false;
  setFlagsFromString("--external-memory-accounted-in-global-limit");
  applied = true;
  return true;
}
