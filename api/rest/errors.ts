/**
 * Every REST error is `{ error, code }`. TroupeErrors keep their code and the catalog's status;
 * an unknown route is TROUPE_ROUTE_NOT_FOUND (404), a body over the limit TROUPE_REQUEST_TOO_LARGE
 * (413); fastify's other client errors (bad JSON, wrong media type) are TROUPE_INVALID_REQUEST
 * with fastify's status; anything else is
 * TROUPE_INTERNAL_ERROR (500), with its message but never its stack.
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_CATALOG, TroupeError, toErrorRecord, type ErrorCode } from '../../core/errors.js';

export interface ErrorResponse {
  readonly error: string;
  readonly code: ErrorCode;
}

export interface HttpError {
  readonly status: number;
  readonly body: ErrorResponse;
}

/** fastify's 4xx errors (FST_ERR_CTP_*, JSON syntax, ...) carry their status. */
function clientErrorStatus(thrown: unknown): number | undefined {
  if (!(thrown instanceof Error)) return undefined;
  const { statusCode, code } = thrown as { statusCode?: unknown; code?: unknown };
  const fromFastify = (typeof code === 'string' && code.startsWith('FST_')) || thrown instanceof SyntaxError;
  return fromFastify && typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 ? statusCode : undefined;
}

export function httpErrorOf(thrown: unknown): HttpError {
  if (thrown instanceof TroupeError) return { status: thrown.spec.status, body: { error: thrown.message, code: thrown.code } };
  const status = clientErrorStatus(thrown);
  if (status !== undefined) return { status, body: { error: (thrown as Error).message, code: status === 413 ? 'TROUPE_REQUEST_TOO_LARGE' : 'TROUPE_INVALID_REQUEST' } };
  const record = toErrorRecord(thrown, 'TROUPE_INTERNAL_ERROR');
  return { status: ERROR_CATALOG[record.code].status, body: { error: record.message, code: record.code } };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((thrown, request, reply) => {
    const { status, body } = httpErrorOf(thrown);
    if (status >= 500) request.log.error({ err: thrown }, `${request.method} ${request.url} failed`);
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorResponse = { error: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`, code: 'TROUPE_ROUTE_NOT_FOUND' };
    return reply.code(404).send(body);
  });
}
