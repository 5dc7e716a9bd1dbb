/** Listens with the app of app.ts; the JobManager process owns the returned server. */
import type { AddressInfo } from 'node:net';
import { TroupeError, causeOf } from '../../core/errors.js';
import { buildApp } from './app.js';
import type { ClusterGateway } from './gateway.js';

export interface RestServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly bodyLimitBytes?: number;
}

export interface RestServer {
  /** Where a client reaches the server, e.g. http://127.0.0.1:8081 (loopback for a wildcard host). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startRestServer(gateway: ClusterGateway, options: RestServerOptions): Promise<RestServer> {
  const app = buildApp(gateway, options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app.close();
    const code = (error as { code?: unknown } | null)?.code;
    const reason = typeof code === 'string' ? code : causeOf(error).message;
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `the REST server cannot listen on ${options.host}:${options.port}: ${reason}`, {
      cause: causeOf(error),
    });
  }
  const { port } = app.server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    close: () => (closing ??= app.close()),
  };
}
