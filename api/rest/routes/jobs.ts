/**
 * /jobs: submit, list, status, result, cancel, collected records (Flink's paths where they exist);
 * a job's savepoints and checkpoints in savepoints.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { JobId } from '../../../core/ids.js';
import type { JobGraph } from '../../../core/job-graph.js';
import { toCollectedSliceDto, toExecutionResultDto, toJobListDto, toJobStatusDto, type SubmitJobResponseDto } from '../dto.js';
import type { ClusterGateway, JobArtifact } from '../gateway.js';
import { cancelQuerySchema, collectedQuerySchema, jobIdParamsSchema, noQuerySchema, submitJobBodySchema } from '../schemas.js';
import { savepointRoutes } from './savepoints.js';

interface JobParams {
  readonly jobId: JobId;
}

export interface JobRoutesOptions {
  readonly gateway: ClusterGateway;
  readonly bodyLimitBytes: number;
}

export function jobRoutes(app: FastifyInstance, { gateway, bodyLimitBytes }: JobRoutesOptions): void {
  const byId = { params: jobIdParamsSchema, querystring: noQuerySchema };

  app.get('/jobs', { schema: { querystring: noQuerySchema } }, async () => toJobListDto(await gateway.listJobs()));

  app.post<{ Body: { jobGraph: JobGraph; artifact: JobArtifact } }>(
    '/jobs',
    { schema: { body: submitJobBodySchema(bodyLimitBytes), querystring: noQuerySchema } },
    async (request, reply) => {
      const { jobId } = await gateway.submitJob(request.body.jobGraph, request.body.artifact);
      const body: SubmitJobResponseDto = { jobId };
      return reply.code(202).send(body);
    },
  );

  app.get<{ Params: JobParams }>('/jobs/:jobId', { schema: byId }, async (request) =>
    toJobStatusDto(await gateway.jobStatus(request.params.jobId)),
  );

  app.get<{ Params: JobParams }>('/jobs/:jobId/execution-result', { schema: byId }, async (request, reply) => {
    const dto = toExecutionResultDto(await gateway.jobResult(request.params.jobId));
    return reply.code(dto.status === 'completed' ? 200 : 202).send(dto);
  });

  app.patch<{ Params: JobParams; Querystring: { mode: 'cancel' } }>(
    '/jobs/:jobId',
    { schema: { params: jobIdParamsSchema, querystring: cancelQuerySchema } },
    async (request, reply) => {
      await gateway.cancelJob(request.params.jobId);
      return reply.code(202).send({});
    },
  );

  app.get<{ Params: JobParams; Querystring: { from: number } }>(
    '/jobs/:jobId/collected',
    { schema: { params: jobIdParamsSchema, querystring: collectedQuerySchema } },
    async (request) => toCollectedSliceDto(await gateway.collected(request.params.jobId, request.query.from)),
  );

  savepointRoutes(app, { gateway });
}
