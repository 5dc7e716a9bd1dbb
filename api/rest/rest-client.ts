/**
 * The client side of the REST API, as the `troupe` CLI uses it. Every failure is a TroupeError:
 *  - an `{ error, code }` answer keeps its code (an unknown code becomes TROUPE_INTERNAL_ERROR);
 *  - a refused, reset or otherwise failed connection is TROUPE_PEER_UNREACHABLE, naming the address;
 *  - no answer within `requestTimeoutMs` is TROUPE_REQUEST_TIMEOUT.
 * Polling (waitForResult, collect) backs off from 5 ms, doubling up to `pollMs` (default 200 ms).
 *
 * A savepoint request waits for the savepoint itself (up to SAVEPOINT_TIMEOUT_MS, 10 min). fetch
 * gives up on response headers after 5 min whatever its signal says (undici's headersTimeout), so
 * such long requests go through node:http instead, with the same error mapping.
 */
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { TroupeError, isErrorCode } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import type { JobGraph } from '../../core/job-graph.js';
import { SAVEPOINT_TIMEOUT_MS } from '../../actors/protocol/dispatcher.js';
import type { JobResult, JobStatusReport } from '../../actors/protocol/job-status.js';
import type {
  CheckpointsDto,
  CollectedSliceDto,
  ExecutionResultDto,
  JobListDto,
  JobListEntryDto,
  OverviewDto,
  SavepointResponseDto,
  SubmitJobResponseDto,
} from './dto.js';
import type { JobArtifact } from './gateway.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 200;

export interface RestClientOptions {
  /** How long one HTTP request may take, body included (default 30 s). */
  readonly requestTimeoutMs?: number;
}

export interface PollOptions {
  /** The longest wait between two polls (default 200 ms); waits start at 5 ms and double. */
  readonly pollMs?: number;
}

/** 'host:port', 'http://host:port' or 'https://host:port[/prefix]' → base URL without a trailing slash. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim();
  const hasScheme = /^[a-z][a-z\d+.-]*:\/\//i.test(trimmed);
  const refuse = (why: string): TroupeError =>
    new TroupeError('TROUPE_INVALID_ARGUMENT', `'${address}' is not a cluster address (host:port or http://host:port): ${why}`);
  let url: URL;
  try {
    url = new URL(hasScheme ? trimmed : `http://${trimmed}`);
  } catch {
    throw refuse('it does not parse');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse(`unsupported scheme ${url.protocol}`);
  if (url.hostname === '') throw refuse('no host');
  if (!hasScheme && !/:\d+$/.test(trimmed)) throw refuse('no port');
  if (url.search !== '' || url.hash !== '') throw refuse('no query or fragment allowed');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

const failed = (error: Error): Error => (error.name === 'AbortError' ? error : new Error('request failed', { cause: error }));

class Backoff {
  private delay = FIRST_POLL_MS;
  constructor(private readonly maxMs: number) {}
  next(): number {
    const d = Math.min(this.delay, this.maxMs);
    this.delay = Math.min(this.delay * 2, this.maxMs);
    return d;
  }
  reset(): void {
    this.delay = FIRST_POLL_MS;
  }
}

function pollCap(opts: PollOptions): number {
  const cap = opts.pollMs ?? MAX_POLL_MS;
  if (!Number.isFinite(cap) || cap < 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `pollMs must be a non-negative number, got ${String(cap)}`);
  return cap;
}

export class RestClient {
  readonly baseUrl: string;
  private readonly requestTimeoutMs: number;

  constructor(address: string, options: RestClientOptions = {}) {
    this.baseUrl = normalizeAddress(address);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(this.requestTimeoutMs) || this.requestTimeoutMs <= 0) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `requestTimeoutMs must be a positive number, got ${String(options.requestTimeoutMs)}`);
    }
  }

  overview(): Promise<OverviewDto> {
    return this.call('GET', '/overview');
  }

  async listJobs(): Promise<readonly JobListEntryDto[]> {
    return (await this.call<JobListDto>('GET', '/jobs')).jobs;
  }

  submitJob(jobGraph: JobGraph, artifact: JobArtifact): Promise<SubmitJobResponseDto> {
    return this.call('POST', '/jobs', { jobGraph, artifact });
  }

  jobStatus(jobId: JobId): Promise<JobStatusReport> {
    return this.call('GET', `/jobs/${encodeURIComponent(jobId)}`);
  }

  /** The result once the job is terminal, else null. */
  async jobResult(jobId: JobId): Promise<JobResult | null> {
    const dto = await this.call<ExecutionResultDto>('GET', `/jobs/${encodeURIComponent(jobId)}/execution-result`);
    return dto.status === 'completed' ? dto.result : null;
  }

  async cancelJob(jobId: JobId): Promise<void> {
    await this.call('PATCH', `/jobs/${encodeURIComponent(jobId)}?mode=cancel`);
  }

  /** Asks the cluster to shut down; it answers before it goes. */
  async shutdown(): Promise<void> {
    await this.call('DELETE', '/cluster');
  }

  collected(jobId: JobId, from: number): Promise<CollectedSliceDto> {
    return this.call('GET', `/jobs/${encodeURIComponent(jobId)}/collected?from=${from}`);
  }

  /**
   * Takes a savepoint and resolves with its absolute directory once it completed. `dir`: an
   * absolute directory (default: the job's savepoint directory); `stop`: cancel the job right
   * after; `timeoutMs`: how long to wait for the savepoint (default 10 min).
   */
  async triggerSavepoint(jobId: JobId, options: { readonly dir?: string; readonly stop?: boolean; readonly timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? SAVEPOINT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `timeoutMs must be a positive number, got ${String(options.timeoutMs)}`);
    const body = { ...(options.dir !== undefined ? { 'target-directory': options.dir } : {}), 'cancel-job': options.stop === true };
    const dto = await this.call<SavepointResponseDto>('POST', `/jobs/${encodeURIComponent(jobId)}/savepoints`, body, { timeoutMs, long: true });
    return dto.location;
  }

  /** The job's checkpoint history, pending and retained checkpoints. */
  checkpoints(jobId: JobId): Promise<CheckpointsDto> {
    return this.call('GET', `/jobs/${encodeURIComponent(jobId)}/checkpoints`);
  }

  /** Polls until the job is terminal; `timeoutMs` (default: none) bounds the whole wait. */
  async waitForResult(jobId: JobId, opts: PollOptions & { readonly timeoutMs?: number } = {}): Promise<JobResult> {
    const backoff = new Backoff(pollCap(opts));
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const result = await this.jobResult(jobId);
      if (result !== null) return result;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TroupeError('TROUPE_REQUEST_TIMEOUT', `job ${jobId} did not finish within ${String(opts.timeoutMs)} ms`, { details: { jobId } });
      }
      await sleep(Math.min(backoff.next(), left));
    }
  }

  /** CollectSink records in arrival order as they arrive, until the job is terminal and all are read. */
  async *collect(jobId: JobId, opts: PollOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const backoff = new Backoff(pollCap(opts));
    let from = 0;
    for (;;) {
      const slice = await this.collected(jobId, from);
      if (!Number.isSafeInteger(slice.next) || slice.next < from) {
        throw new TroupeError('TROUPE_INTERNAL_ERROR', `the cluster answered collected?from=${from} with next=${String(slice.next)}`);
      }
      for (const record of slice.records) yield record;
      from = slice.next;
      if (slice.complete) return;
      if (slice.records.length > 0) backoff.reset();
      else await sleep(backoff.next());
    }
  }

  /** `long`: the answer may take longer than fetch waits for headers (5 min), so node:http carries it. */
  private async call<T>(method: string, path: string, body?: unknown, { timeoutMs = this.requestTimeoutMs, long = false } = {}): Promise<T> {
    const target = `${method} ${path}`;
    let status: number;
    let text: string;
    try {
      const json = body === undefined ? undefined : JSON.stringify(body);
      ({ status, text } = await (long ? this.viaHttp(method, path, json, timeoutMs) : this.viaFetch(method, path, json, timeoutMs)));
    } catch (error) {
      throw this.transportError(error, target, timeoutMs);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      throw new TroupeError('TROUPE_INTERNAL_ERROR', `${target} on ${this.baseUrl} answered HTTP ${status} with a body that is not JSON`, { details: { status } });
    }
    if (status >= 200 && status < 300) return payload as T;
    const { error, code } = (payload ?? {}) as { error?: unknown; code?: unknown };
    if (typeof error !== 'string') {
      throw new TroupeError('TROUPE_INTERNAL_ERROR', `${target} on ${this.baseUrl} answered HTTP ${status} without an error record`, { details: { status } });
    }
    throw isErrorCode(code)
      ? new TroupeError(code, error, { details: { status } })
      : new TroupeError('TROUPE_INTERNAL_ERROR', error, { details: { status, code } });
  }

  private async viaFetch(method: string, path: string, json: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      ...(json === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: json }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, text: await response.text() };
  }

  /** The same exchange without fetch's 5-minute cap; failures look like fetch's (AbortError, or the cause's code). */
  private viaHttp(method: string, path: string, json: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
    const url = new URL(`${this.baseUrl}${path}`);
    const headers = json === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) };
    return new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request(url, { method, headers, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('error', (error) => reject(failed(error)));
        response.once('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      request.once('error', (error) => reject(failed(error)));
      request.end(json);
    });
  }

  private transportError(error: unknown, target: string, timeoutMs: number): TroupeError {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new TroupeError('TROUPE_REQUEST_TIMEOUT', `${target} got no answer from ${this.baseUrl} within ${timeoutMs} ms`, {
        details: { address: this.baseUrl, timeoutMs },
      });
    }
    const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
    const reason = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : String(error);
    return new TroupeError('TROUPE_PEER_UNREACHABLE', `cannot reach the Troupe cluster at ${this.baseUrl}: ${reason} (${target})`, {
      details: { address: this.baseUrl, reason },
    });
  }
}
