/**
 * How the HTTP API answers errors: `{ error, code }` with the status each error class stands for
 * (the library's typed errors, fastify's own body and validation errors, and HttpError thrown by
 * the routes and the door checks).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import {
  CrdtReplicatorError,
  DurableWriteError,
  InvalidArgumentError,
  KeyDeletedError,
  KeyTypeMismatchError,
  ReadTimeoutError,
  ReplicatorClosedError,
  WriteTimeoutError,
} from "crdt-replicator";
import { BodyError } from "./codec-json.js";
import { jsonContentTypeProblem } from "./http-guard.js";

export const BODY_LIMIT = 1024 * 1024;

export class HttpError extends CrdtReplicatorError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Clearer words for fastify's own body errors. */
const FASTIFY_MESSAGES: Record<string, (req: FastifyRequest) => string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => `the body is larger than ${BODY_LIMIT} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (req) => jsonContentTypeProblem(req.headers["content-type"]) ?? "unsupported media type",
};

/** The error handler of the API's routes (and of the daemon's server around them). */
export function replyError(error: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  const [status, code] = classify(error);
  if (error instanceof HttpError) void reply.headers(error.headers);
  const message = FASTIFY_MESSAGES[(error as { code?: string }).code ?? ""]?.(req) ?? error.message;
  void reply.code(status).send({ error: message, code });
}

function classify(error: unknown): [number, string] {
  if (error instanceof HttpError) return [error.status, error.code];
  if (error instanceof BodyError || error instanceof InvalidArgumentError) return [400, "BAD_REQUEST"];
  if (error instanceof KeyTypeMismatchError) return [409, "TYPE_MISMATCH"];
  if (error instanceof KeyDeletedError) return [410, "KEY_DELETED"];
  if (error instanceof ReadTimeoutError || error instanceof WriteTimeoutError) return [504, "COORDINATION_TIMEOUT"];
  if (error instanceof ReplicatorClosedError) return [503, "CLOSED"];
  if (error instanceof DurableWriteError) return [500, "NOT_DURABLE"];
  const status = (error as { statusCode?: unknown }).statusCode; // fastify's own: 413, 415, a malformed request, a schema's verdict
  if (status === 400) return [400, "BAD_REQUEST"];
  if (status === 413) return [413, "BODY_TOO_LARGE"];
  if (status === 415) return [415, "UNSUPPORTED_MEDIA_TYPE"];
  if (typeof status === "number" && status > 400 && status < 600) return [status, String((error as { code?: unknown }).code ?? "ERROR")];
  return [500, "INTERNAL"];
}
