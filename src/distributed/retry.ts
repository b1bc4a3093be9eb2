/**
 * Retrying a JetStream operation through a lost server or a leader election, within a deadline.
 * Timeouts, "no responders" and 503 answers are worth another try; an error reply of the JetStream
 * API is final (ProtocolError), and so is a closed connection.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { InvalidArgumentError, ProtocolError, RequestFailedError } from "../errors.js";

/** Longest single request inside an operation's retry loop. */
export const ATTEMPT_MS = 5_000;

/**
 * Run `attempt` (given its time budget, at most `attemptMs`) until it succeeds or `timeoutMs`
 * passed; `what` names it in errors.
 */
export async function retrying<R>(nc: NatsConnection, timeoutMs: number, what: string, attempt: (ms: number) => Promise<R>, attemptMs = ATTEMPT_MS): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  let pause = 25;
  for (;;) {
    if (nc.isClosed()) throw new RequestFailedError(`${what}: the NATS connection is closed`, "closed");
    try {
      return await attempt(Math.max(100, Math.min(attemptMs, deadline - Date.now())));
    } catch (error) {
      if (error instanceof JetStreamApiError && error.status !== 503) {
        throw new ProtocolError(`${what}: the server refused: ${error.message}`, { cause: error });
      }
      if (error instanceof InvalidArgumentError) throw error;
      if (Date.now() + pause >= deadline) {
        const message = `${what} got no answer within ${timeoutMs} ms (last: ${(error as Error).message}); is JetStream up?`;
        throw Object.assign(new RequestFailedError(message, "timeout"), { cause: error });
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 500);
    }
  }
}
