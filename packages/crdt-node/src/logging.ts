/**
 * The daemon's log: JSON lines through pino, one logger for the daemon's own lines, the library's
 * `logger` option and fastify (whose request lines are at debug, not info: at the default level a
 * busy node would otherwise log every request).
 */
import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import { pino, type Logger } from "pino";

/** `--log-level` values, most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A logger writing one JSON object per line, with ISO time, the level's name and the node's id and
 * DC on every line. `write`: where the lines go (default: stdout, synchronously, so the last lines
 * before an exit are not lost).
 */
export function createLogger(level: LogLevel, node: string, dc: string, write?: (line: string) => void): Logger {
  return pino(
    {
      level,
      base: { node, dc },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    write === undefined ? pino.destination({ dest: 1, sync: true }) : { write },
  );
}

/** fastify's request lines (incoming, completed, client errors) at debug instead of info; failures stay errors. */
export class RequestLogAtDebug extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (!this.isLogDisabled(request)) request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, "request errored");
    // A 500 is a bug (the API answers its own failures with 4xx, 503 and 504): worth an error line at any level.
    else if (reply.statusCode === 500) reply.log.error({ req: request, res: reply, responseTime: reply.elapsedTime }, "request failed: 500");
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
  }

  override defaultErrorLog(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (reply.statusCode >= 500) reply.log.error({ req: request, res: reply, err: error }, error.message);
    else reply.log.debug({ res: reply, err: error }, error.message);
  }
}
