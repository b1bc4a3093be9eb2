/**
 * Preload (`node --import`) that shifts this process's wall clock by CHAOS_CLOCK_OFFSET_MS: Date.now
 * and performance.timeOrigin (the replicator reads wall time as timeOrigin + performance.now()).
 * Timers and performance.now() are monotonic and stay as they are, as on a host whose clock is off.
 */
const offsetMs = Number(process.env["CHAOS_CLOCK_OFFSET_MS"] ?? "0");
if (!Number.isFinite(offsetMs)) throw new Error(`CHAOS_CLOCK_OFFSET_MS must be a number of ms; got ${process.env["CHAOS_CLOCK_OFFSET_MS"]}`);
if (offsetMs !== 0) {
  const realNow = Date.now;
  Date.now = () => realNow() + offsetMs;
  Object.defineProperty(performance, "timeOrigin", { value: performance.timeOrigin + offsetMs });
}
