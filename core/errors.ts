/**
 * One catalog of coded errors. Errors cross actors (and later processes) as plain records
 * (`ErrorRecord`), never as class instances: `instanceof` does not survive a process boundary.
 */

export type ErrorDomain = 'user' | 'external' | 'internal';

export interface ErrorSpec {
  readonly status: number;
  readonly domain: ErrorDomain;
  readonly retryable: boolean;
  readonly description: string;
}

export const ERROR_CATALOG = {
  TROUPE_INVALID_ARGUMENT: { status: 400, domain: 'user', retryable: false, description: 'An argument to the API is invalid.' },
  TROUPE_INVALID_PARALLELISM: { status: 400, domain: 'user', retryable: false, description: 'Parallelism is not an integer between 1 and the max parallelism.' },
  TROUPE_INVALID_JOB_MODULE: { status: 400, domain: 'user', retryable: false, description: 'A job module cannot be loaded or does not export a default function (env, args).' },
  TROUPE_JOB_HAS_NO_SINK: { status: 400, domain: 'user', retryable: false, description: 'The job defines no sink, so it would compute nothing observable.' },
  TROUPE_INVALID_JOB_GRAPH: { status: 400, domain: 'user', retryable: false, description: 'The job graph is inconsistent (duplicate uid, illegal edge, ...).' },
  TROUPE_KEY_NOT_SERIALIZABLE: { status: 400, domain: 'user', retryable: false, description: 'A key selector returned a value that cannot be hashed stably (function, symbol, undefined, NaN, cyclic object, ...).' },
  TROUPE_USER_FUNCTION_FAILED: { status: 500, domain: 'user', retryable: true, description: 'A user function threw; the job fails with the operator name and the cause.' },
  TROUPE_NOT_ENOUGH_SLOTS: { status: 503, domain: 'external', retryable: true, description: 'The ResourceManager cannot provide the slots the job needs.' },
  TROUPE_REQUEST_TIMEOUT: { status: 504, domain: 'internal', retryable: true, description: 'An actor did not answer a request within its timeout.' },
  TROUPE_JOB_NOT_FOUND: { status: 404, domain: 'user', retryable: false, description: 'No job with that id is known.' },
  TROUPE_JOB_CANCELLED: { status: 409, domain: 'user', retryable: false, description: 'The job was cancelled before it finished.' },
  TROUPE_CHANNEL_SEQUENCE: { status: 500, domain: 'internal', retryable: true, description: 'A data channel received a buffer out of sequence (gap or duplicate).' },
  TROUPE_PROTOCOL_VIOLATION: { status: 500, domain: 'internal', retryable: true, description: 'An actor received a message that is illegal in its current state.' },
  TROUPE_TASK_FAILED: { status: 500, domain: 'internal', retryable: true, description: 'A task failed for a reason other than a user function.' },
  TROUPE_INTERNAL_ERROR: { status: 500, domain: 'internal', retryable: true, description: 'An actor handler failed unexpectedly.' },
  TROUPE_CLUSTER_SHUT_DOWN: { status: 503, domain: 'external', retryable: false, description: 'The cluster was shut down while the request was pending.' },
  TROUPE_INVALID_CLUSTER_CONFIG: { status: 400, domain: 'user', retryable: false, description: 'A cluster configuration file is missing, not JSON, or fails validation (every problem is listed).' },
  TROUPE_INVALID_REQUEST: { status: 400, domain: 'user', retryable: false, description: 'A REST request body, path or query fails validation.' },
  TROUPE_ROUTE_NOT_FOUND: { status: 404, domain: 'user', retryable: false, description: 'No REST route matches the request method and path.' },
  TROUPE_REQUEST_TOO_LARGE: { status: 413, domain: 'user', retryable: false, description: 'A REST request body exceeds the server body limit.' },
  TROUPE_RECORD_TOO_LARGE: { status: 400, domain: 'user', retryable: false, description: 'A record serializes to more bytes than the configured maximum record size.' },
  TROUPE_RECORD_NOT_SERIALIZABLE: { status: 400, domain: 'user', retryable: false, description: 'A record holds a value the binary codec cannot carry (function, symbol, class instance, cycle, ...).' },
  TROUPE_CODEC_CORRUPT: { status: 500, domain: 'internal', retryable: true, description: 'A received buffer or frame does not decode (truncated, unknown tag, bad length).' },
  TROUPE_FRAME_TOO_LARGE: { status: 413, domain: 'external', retryable: false, description: 'A peer announced a transport frame larger than the configured cap; the connection is closed.' },
  TROUPE_AUTH_FAILED: { status: 401, domain: 'external', retryable: false, description: 'A transport peer did not prove the shared cluster secret; the connection is closed.' },
  TROUPE_INSECURE_BIND: { status: 400, domain: 'user', retryable: false, description: 'A listener would bind a non-loopback address without a shared secret.' },
  TROUPE_PEER_UNREACHABLE: { status: 503, domain: 'external', retryable: true, description: 'A transport peer (agent, TaskExecutor, JobManager) cannot be reached or its connection was lost.' },
  TROUPE_TASK_EXECUTOR_LOST: { status: 500, domain: 'external', retryable: true, description: 'A TaskExecutor stopped answering heartbeats within the heartbeat timeout.' },
  TROUPE_SPAWN_FAILED: { status: 500, domain: 'external', retryable: true, description: 'A TaskExecutor process could not be started or did not register in time.' },
  TROUPE_CHECKPOINT_CORRUPT: { status: 500, domain: 'internal', retryable: false, description: 'A checkpoint or savepoint file is missing, truncated, altered or from another job; the error names the file.' },
  TROUPE_CHECKPOINT_FENCED: { status: 409, domain: 'internal', retryable: false, description: 'A writer from an older attempt (epoch) tried to write into checkpoint storage; a zombie task cannot touch a newer checkpoint.' },
  TROUPE_CHECKPOINT_NOT_FOUND: { status: 404, domain: 'user', retryable: false, description: 'No checkpoint or savepoint exists at the given path or id.' },
  TROUPE_CHECKPOINT_CONFLICT: { status: 409, domain: 'internal', retryable: false, description: 'A checkpoint file was written twice with different contents, or written after its checkpoint was finalized.' },
  TROUPE_CHECKPOINT_TOLERANCE_EXCEEDED: { status: 500, domain: 'internal', retryable: true, description: 'More consecutive checkpoints failed than the job tolerates.' },
  TROUPE_CHECKPOINT_DECLINED: { status: 500, domain: 'internal', retryable: true, description: 'A task declined a checkpoint (it was not running, or taking its snapshot failed); the checkpoint is aborted and the next one is tried.' },
  TROUPE_SAVEPOINT_INCOMPATIBLE: { status: 400, domain: 'user', retryable: false, description: 'A savepoint holds state for operators the job does not have (pass allowNonRestoredState to drop it), or its max parallelism differs from that of the job; the error names the savepoint metadata file.' },
  TROUPE_SINK_FAILED: { status: 500, domain: 'external', retryable: true, description: 'A sink could not write, pre-commit, commit or recover a transaction (file system or database error).' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The wire form of an error: plain JSON. */
export interface ErrorRecord {
  readonly code: ErrorCode;
  readonly message: string;
  /** Operator (chain member) that failed, when known. */
  readonly operator?: string;
  /** The underlying cause, e.g. what a user function threw. */
  readonly cause?: { readonly name: string; readonly message: string; readonly stack?: string };
  readonly details?: Record<string, unknown>;
}

export class TroupeError extends Error {
  readonly code: ErrorCode;
  readonly operator: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly causeRecord: ErrorRecord['cause'];

  constructor(code: ErrorCode, message: string, extra: Omit<ErrorRecord, 'code' | 'message'> = {}) {
    super(message);
    this.name = 'TroupeError';
    this.code = code;
    this.operator = extra.operator;
    this.details = extra.details;
    this.causeRecord = extra.cause;
  }

  get spec(): ErrorSpec {
    return ERROR_CATALOG[this.code];
  }

  toRecord(): ErrorRecord {
    return {
      code: this.code,
      message: this.message,
      ...(this.operator !== undefined ? { operator: this.operator } : {}),
      ...(this.causeRecord !== undefined ? { cause: this.causeRecord } : {}),
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }

  static fromRecord(record: ErrorRecord): TroupeError {
    const { code, message, ...extra } = record;
    return new TroupeError(code, message, extra);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOG, value);
}

/** Any thrown value as a cause record (user functions may throw anything). */
export function causeOf(thrown: unknown): NonNullable<ErrorRecord['cause']> {
  if (thrown instanceof Error) {
    return { name: thrown.name, message: thrown.message, ...(thrown.stack !== undefined ? { stack: thrown.stack } : {}) };
  }
  return { name: typeof thrown, message: String(thrown) };
}

/** Normalises anything thrown into a record; TroupeErrors keep their code. */
export function toErrorRecord(thrown: unknown, fallback: ErrorCode = 'TROUPE_TASK_FAILED'): ErrorRecord {
  if (thrown instanceof TroupeError) return thrown.toRecord();
  if (typeof thrown === 'object' && thrown !== null && isErrorCode((thrown as { code?: unknown }).code)) {
    const t = thrown as { code: ErrorCode; message?: unknown };
    return { code: t.code, message: typeof t.message === 'string' ? t.message : t.code };
  }
  const cause = causeOf(thrown);
  return { code: fallback, message: cause.message, cause };
}
