/** The cluster as a whole: overview and shutdown. */
import type { FastifyInstance } from 'fastify';
import { toOverviewDto } from '../dto.js';
import type { ClusterGateway } from '../gateway.js';
import { noQuerySchema } from '../schemas.js';

export function clusterRoutes(app: FastifyInstance, { gateway }: { readonly gateway: ClusterGateway }): void {
  app.get('/overview', { schema: { querystring: noQuerySchema } }, async () => {
    const [overview, jobs] = await Promise.all([gateway.overview(), gateway.listJobs()]);
    return toOverviewDto(overview, jobs);
  });

  // The shutdown starts once the 202 has reached the client: it may well close this very server.
  app.delete(
    '/cluster',
    {
      schema: { querystring: noQuerySchema },
      onResponse: (request, reply, done) => {
        if (reply.statusCode === 202) {
          gateway.shutdown().catch((err: unknown) => request.log.error({ err }, 'cluster shutdown failed'));
        }
        done();
      },
    },
    async (_request, reply) => reply.code(202).send({}),
  );
}
