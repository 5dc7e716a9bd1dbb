/**
 * /jobs/:jobId/savepoints and /jobs/:jobId/checkpoints (Flink's paths and body fields).
 *
 * Unlike Flink, POST .../savepoints is synchronous: it answers 200 `{ location }` once the
 * savepoint completed (or its coded error once it failed), which takes as long as the slowest
 * task's snapshot upload. Nothing on the server side cuts it short: fastify's requestTimeout and
 * connectionTimeout stay 0 and the gateway waits up to SAVEPOINT_TIMEOUT_MS; a client should wait
 * as long (RestClient.triggerSavepoint does).
 */
import type { FastifyInstance } from 'fastify';
import type { JobId } from '../../../core/ids.js';
import { toCheckpointsDto, type SavepointResponseDto } from '../dto.js';
import type { ClusterGateway } from '../gateway.js';
import { jobIdParamsSchema, noQuerySchema, savepointBodySchema } from '../schemas.js';

interface JobParams {
  readonly jobId: JobId;
}

interface SavepointBody {
  readonly 'target-directory'?: string;
  readonly 'cancel-job': boolean;
}

export function savepointRoutes(app: FastifyInstance, { gateway }: { readonly gateway: ClusterGateway }): void {
  app.post<{ Params: JobParams; Body: SavepointBody }>(
    '/jobs/:jobId/savepoints',
    { schema: { params: jobIdParamsSchema, querystring: noQuerySchema, body: savepointBodySchema } },
    async (request) => {
      const dir = request.body['target-directory'];
      const location = await gateway.triggerSavepoint(request.params.jobId, { stop: request.body['cancel-job'], ...(dir !== undefined ? { dir } : {}) });
      const body: SavepointResponseDto = { location };
      return body;
    },
  );

  app.get<{ Params: JobParams }>('/jobs/:jobId/checkpoints', { schema: { params: jobIdParamsSchema, querystring: noQuerySchema } }, async (request) =>
    toCheckpointsDto(await gateway.jobCheckpoints(request.params.jobId)),
  );
}
