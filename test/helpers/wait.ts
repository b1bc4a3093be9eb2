/**
 * Bounded polling for tests: wait for a condition, never sleep a fixed time and hope. Deadlines are
 * generous by default because CI machines are small and loaded; a passing test returns as soon as
 * the condition holds, so generous costs nothing.
 */

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Poll period (default 20 ms). */
  intervalMs?: number;
  /** What we were waiting for, for the error message. */
  message?: string;
  /** Called at the deadline; its result is put in the error message (e.g. the last value seen). */
  describe?: () => unknown;
}

/**
 * Resolve once `condition` returns true. A condition that throws counts as "not yet" (so assertions
 * can be used as conditions); at the deadline the last exception is reported.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  let text = `waitFor timed out after ${timeoutMs} ms: ${options.message ?? "condition never became true"}`;
  if (options.describe) text += `; last observed: ${show(options.describe())}`;
  if (lastError !== undefined) text += `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(text, lastError === undefined ? undefined : { cause: lastError });
}

/**
 * Resolve with the first event that matches `predicate`, from any `on(listener) => unsubscribe`
 * style source (e.g. `transport.onStatus`). Subscribes at once, so call it *before* causing the event.
 */
export function waitForEvent<T>(
  on: (listener: (event: T) => void) => () => void,
  predicate: (event: T) => boolean = () => true,
  options: Omit<WaitOptions, "intervalMs"> = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<T>((resolve, reject) => {
    const seen: T[] = [];
    let done = false;
    let off: (() => void) | undefined;
    const timer = setTimeout(() => {
      done = true;
      off?.();
      let text = `waitForEvent timed out after ${timeoutMs} ms: ${options.message ?? "no matching event"}`;
      text += `; events seen: ${show(seen)}`;
      if (options.describe) text += `; last observed: ${show(options.describe())}`;
      reject(new Error(text));
    }, timeoutMs);
    off = on((event) => {
      if (done) return;
      seen.push(event);
      if (!predicate(event)) return;
      done = true;
      clearTimeout(timer);
      // The source may call us while `on` is still running: unsubscribe once it has returned.
      queueMicrotask(() => off?.());
      resolve(event);
    });
    if (done) off();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function show(v: unknown): string {
  try {
    return typeof v === "string" ? v : JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
  } catch {
    return String(v);
  }
}
