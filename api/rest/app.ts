/**
 * The REST API the `troupe` CLI talks to. Builds the fastify instance without listening (see
 * server.ts), so tests inject requests without a socket.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { TroupeError } from '../../core/errors.js';
import { installErrorHandling } from './errors.js';
import type { ClusterGateway } from './gateway.js';
import { stringifyJsonSafe } from './json-safe.js';
import { clusterRoutes } from './routes/cluster.js';
import { jobRoutes } from './routes/jobs.js';
import { joiValidatorCompiler } from './validation.js';

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024 * 1024;

export interface RestAppOptions {
  /** Largest accepted request body (default 64 MiB); a job bundle must fit. */
  readonly bodyLimitBytes?: number;
  readonly logger?: boolean;
}

export function buildApp(gateway: ClusterGateway, options: RestAppOptions = {}): FastifyInstance {
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isSafeInteger(bodyLimitBytes) || bodyLimitBytes < 1) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `bodyLimitBytes must be a positive integer, got ${String(bodyLimitBytes)}`);
  }
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: bodyLimitBytes });
  app.setValidatorCompiler(joiValidatorCompiler);
  app.setReplySerializer((payload) => stringifyJsonSafe(payload));
  installErrorHandling(app);
  jobRoutes(app, { gateway, bodyLimitBytes });
  clusterRoutes(app, { gateway });
  return app;
}
