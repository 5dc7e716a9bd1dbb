/**
 * Cluster descriptions: a JSON file says how the JobManager listens, where and how many
 * TaskExecutors run, the network/heartbeat tuning and the shared secret. `parseClusterConfig`
 * validates with joi (every problem at once, each with its JSON path), applies the defaults and
 * the cross-field rules; `loadClusterConfig` does the same for a file. Every failure is a
 * TroupeError TROUPE_INVALID_CLUSTER_CONFIG whose `details.problems` lists {path, message}.
 * The secret never appears in an error: messages are ours (no joi message echoes a value) and
 * are scrubbed of the secret besides.
 */
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Joi from 'joi';
import { TroupeError } from '../core/errors.js';

// ---- the type ----

/**
 * How TaskExecutors run: `embedded` in the JobManager's process, `forked` as child processes,
 * `threaded` as worker threads, `remote` started by agents on other hosts (one agent per `host`).
 */
export type ClusterMode = 'embedded' | 'forked' | 'threaded' | 'remote';
export const CLUSTER_MODES: readonly ClusterMode[] = ['embedded', 'forked', 'threaded', 'remote'];

export interface JobManagerConfig {
  /** Address the JobManager's RPC listener binds and TaskExecutors connect to. */
  readonly address: string;
  /** RPC port; 0 = any free port. */
  readonly rpcPort: number;
  /** REST port; 0 = any free port. */
  readonly restPort: number;
  /** Address the REST listener binds; defaults to `address`. */
  readonly restBind: string;
}

/** `count` TaskExecutors with `slots` slots each. */
export interface TaskExecutorGroupConfig {
  readonly count: number;
  readonly slots: number;
  /** The agent's address; present exactly when mode is 'remote'. */
  readonly host?: string;
  /** The agent's port; present exactly when mode is 'remote' (default 6161). */
  readonly agentPort?: number;
}

/** Network tuning of the cross-process data plane (byte-sized, unlike core NetworkConfig). */
export interface ClusterNetworkConfig {
  /** Bytes per network buffer, 1 KiB .. 16 MiB. */
  readonly bufferBytes: number;
  readonly exclusiveCredits: number;
  readonly floatingCredits: number;
  /** Flush partial buffers after this many ms; 0 = after every record; -1 = only when full. */
  readonly bufferTimeoutMs: number;
  /** Largest serialized record. */
  readonly maxRecordBytes: number;
  /** Largest transport frame a peer may announce; >= maxRecordBytes + bufferBytes + 1024. */
  readonly maxFrameBytes: number;
}

export interface HeartbeatConfig {
  readonly intervalMs: number;
  /** A TaskExecutor silent for this long is lost; > intervalMs. */
  readonly timeoutMs: number;
}

/** Where the secret came from: the file's "secret" (wins) or the TROUPE_SECRET environment variable. */
export type SecretSource = 'file' | 'env';

/** A validated cluster description with every default applied. */
export interface ClusterConfig {
  readonly name: string | undefined;
  readonly mode: ClusterMode;
  readonly jobmanager: JobManagerConfig;
  /** Shared cluster secret; always set in remote mode and off loopback, else only when given. */
  readonly secret: string | undefined;
  readonly secretSource: SecretSource | undefined;
  readonly taskExecutors: readonly TaskExecutorGroupConfig[];
  readonly network: ClusterNetworkConfig;
  readonly heartbeat: HeartbeatConfig;
  /** Absolute path; default `<os.tmpdir()>/troupe-<name or 'cluster'>`. */
  readonly workDir: string;
}

export interface ClusterConfigProblem {
  /** JSON path, e.g. `taskExecutors[1].slots`; `(root)` for the document itself. */
  readonly path: string;
  readonly message: string;
}

// ---- constants ----

export const SECRET_ENV_VAR = 'TROUPE_SECRET';
export const MIN_SECRET_LENGTH = 16;
const KiB = 1024;
const MiB = 1024 * KiB;
/** Frame header allowance in the maxFrameBytes rule. */
const FRAME_OVERHEAD_BYTES = 1024;
const ROOT_PATH = '(root)';
const ENV_SECRET_PATH = `env.${SECRET_ENV_VAR}`;

// ---- the schema ----

function int(min: number, max?: number): Joi.NumberSchema {
  const text =
    max === undefined ? `must be an integer >= ${min}` : `must be an integer between ${min} and ${max}`;
  let schema = Joi.number().integer().min(min);
  if (max !== undefined) schema = schema.max(max);
  return schema.messages(numberMessages(text));
}

function port(): Joi.NumberSchema {
  return Joi.number()
    .integer()
    .min(0)
    .max(65535)
    .messages(numberMessages('must be a port number, an integer between 0 and 65535 (0 = any free port)'));
}

function numberMessages(text: string): Record<string, string> {
  return {
    'number.base': text,
    'number.integer': text,
    'number.min': text,
    'number.max': text,
    'number.unsafe': text,
    'number.infinity': text,
  };
}

function address(): Joi.StringSchema {
  return Joi.string().hostname().messages({
    'string.base': 'must be a string (a hostname or an IP address)',
    'string.empty': 'must not be empty (a hostname or an IP address)',
    'string.hostname': 'must be a hostname or an IP address (IPv6 without brackets)',
  });
}

const jobmanagerKeys = {
  address: address().default('127.0.0.1'),
  rpcPort: port().default(6123),
  restPort: port().default(8081),
  restBind: address(),
};

const taskExecutorKeys = {
  count: int(1).default(1),
  slots: int(1).required(),
  host: Joi.when('/mode', {
    switch: [
      {
        is: 'remote',
        then: address()
          .required()
          .messages({ 'any.required': 'is required in remote mode (the address of the agent that starts these TaskExecutors)' }),
      },
      {
        is: Joi.valid('embedded', 'forked', 'threaded'),
        then: Joi.forbidden().messages({ 'any.unknown': 'is only allowed in remote mode' }),
      },
    ],
    otherwise: Joi.any(),
  }),
  agentPort: Joi.when('/mode', {
    switch: [
      { is: 'remote', then: port().default(6161) },
      {
        is: Joi.valid('embedded', 'forked', 'threaded'),
        then: Joi.forbidden().messages({ 'any.unknown': 'is only allowed in remote mode' }),
      },
    ],
    otherwise: Joi.any(),
  }),
};

const networkKeys = {
  bufferBytes: Joi.number()
    .integer()
    .min(KiB)
    .max(16 * MiB)
    .default(32 * KiB)
    .messages(numberMessages(`must be an integer between ${KiB} (1 KiB) and ${16 * MiB} (16 MiB)`)),
  exclusiveCredits: int(1).default(2),
  floatingCredits: int(0).default(8),
  bufferTimeoutMs: int(-1).default(100),
  maxRecordBytes: int(1).default(16 * MiB),
  maxFrameBytes: int(1).default(64 * MiB),
};

const heartbeatKeys = {
  intervalMs: int(10).default(1000),
  timeoutMs: int(1).default(5000),
};

const rootKeys = {
  name: Joi.string()
    .pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
    .messages({
      'string.base': 'must be a string',
      'string.empty': 'must not be empty',
      'string.pattern.base':
        'must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit (it names the work directory)',
    }),
  mode: Joi.string()
    .valid(...CLUSTER_MODES)
    .required()
    .messages({
      'any.only': `must be one of ${CLUSTER_MODES.map((m) => `"${m}"`).join(', ')}`,
      'any.required': `is required: one of ${CLUSTER_MODES.map((m) => `"${m}"`).join(', ')}`,
      'string.base': `must be one of ${CLUSTER_MODES.map((m) => `"${m}"`).join(', ')}`,
    }),
  jobmanager: Joi.object(jobmanagerKeys).default(),
  secret: Joi.string()
    .min(MIN_SECRET_LENGTH)
    .messages({
      'string.base': `must be a string of at least ${MIN_SECRET_LENGTH} characters`,
      'string.empty': `must be a string of at least ${MIN_SECRET_LENGTH} characters`,
      'string.min': `must be a string of at least ${MIN_SECRET_LENGTH} characters`,
    }),
  taskExecutors: Joi.array()
    .items(Joi.object(taskExecutorKeys))
    .min(1)
    .required()
    .messages({
      'array.base': 'must be an array of TaskExecutor groups (objects with "slots")',
      'array.min': 'must list at least one TaskExecutor group',
    }),
  network: Joi.object(networkKeys).default(),
  heartbeat: Joi.object(heartbeatKeys).default(),
  workDir: Joi.string().messages({
    'string.base': 'must be a string (a directory path)',
    'string.empty': 'must not be empty (a directory path)',
  }),
};

/** The joi schema of a cluster description (no cross-field rules: parseClusterConfig adds those). */
export const clusterConfigSchema: Joi.ObjectSchema = Joi.object(rootKeys);

/** Fields known at each object position, to suggest a fix for a misspelt key. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(rootKeys),
  jobmanager: Object.keys(jobmanagerKeys),
  'taskExecutors[]': Object.keys(taskExecutorKeys),
  network: Object.keys(networkKeys),
  heartbeat: Object.keys(heartbeatKeys),
};

const VALIDATION_OPTIONS: Joi.ValidationOptions = {
  abortEarly: false,
  convert: false,
  errors: { label: false },
  messages: {
    'any.required': 'is required',
    'any.unknown': 'is not allowed here',
    'object.base': 'must be a JSON object',
    'object.unknown': 'is not a known field',
    'array.base': 'must be an array',
    'string.base': 'must be a string',
    'string.empty': 'must not be empty',
  },
};

// ---- loopback ----

/**
 * True for addresses that only reach this host: 127.0.0.0/8, ::1 (any spelling, bracketed or
 * not, and ::ffff:127.x.y.z) and 'localhost'. Anything else — including 0.0.0.0 and ::, which
 * bind every interface, and names that merely resolve to loopback — is not.
 */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (a === 'localhost' || a === 'localhost.') return true;
  if (isIPv4(a)) return a.startsWith('127.');
  const bare = a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a;
  if (!bare.includes(':')) return false;
  let canonical: string;
  try {
    canonical = new URL(`http://[${bare}]/`).hostname;
  } catch {
    return false;
  }
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

// ---- parsing ----

interface Validated {
  name?: unknown;
  mode?: unknown;
  jobmanager?: Record<string, unknown>;
  secret?: unknown;
  taskExecutors?: unknown;
  network?: Record<string, unknown>;
  heartbeat?: Record<string, unknown>;
  workDir?: unknown;
}

/**
 * Validates a parsed JSON cluster description and applies defaults. `env` supplies
 * TROUPE_SECRET when the description has no "secret"; `source` names the description in the
 * error message (e.g. the file).
 * @throws TroupeError TROUPE_INVALID_CLUSTER_CONFIG listing every problem.
 */
export function parseClusterConfig(json: unknown, env: NodeJS.ProcessEnv = process.env, source?: string): ClusterConfig {
  // `undefined` would pass an optional object schema: validate it as the non-object it is.
  const result = clusterConfigSchema.validate(json === undefined ? null : json, VALIDATION_OPTIONS);
  const problems: ClusterConfigProblem[] = (result.error?.details ?? []).map(toProblem);
  const bad = new Set(problems.map((p) => p.path));
  const raw = isRecord(json) ? json : {};
  const v: Validated = isRecord(result.value) ? result.value : {};
  const jm = isRecord(v.jobmanager) ? v.jobmanager : {};
  const network = isRecord(v.network) ? v.network : {};
  const heartbeat = isRecord(v.heartbeat) ? v.heartbeat : {};
  const groups = Array.isArray(v.taskExecutors) ? (v.taskExecutors as unknown[]) : [];
  const ok = (p: string, value: unknown): boolean => !bad.has(p) && value !== undefined;

  // heartbeat.timeoutMs > heartbeat.intervalMs
  const { intervalMs, timeoutMs } = heartbeat;
  if (
    ok('heartbeat.intervalMs', intervalMs) &&
    ok('heartbeat.timeoutMs', timeoutMs) &&
    (timeoutMs as number) <= (intervalMs as number)
  ) {
    const defaulted = !isRecord(raw.heartbeat) || raw.heartbeat.timeoutMs === undefined;
    problems.push({
      path: 'heartbeat.timeoutMs',
      message:
        `must be greater than heartbeat.intervalMs (${String(intervalMs)})` +
        (defaulted ? ` (the default ${String(timeoutMs)} applies when unset)` : ''),
    });
  }

  // maxFrameBytes >= maxRecordBytes + bufferBytes + 1024
  const { bufferBytes, maxRecordBytes, maxFrameBytes } = network;
  if (
    ok('network.bufferBytes', bufferBytes) &&
    ok('network.maxRecordBytes', maxRecordBytes) &&
    ok('network.maxFrameBytes', maxFrameBytes)
  ) {
    const needed = (maxRecordBytes as number) + (bufferBytes as number) + FRAME_OVERHEAD_BYTES;
    if ((maxFrameBytes as number) < needed) {
      problems.push({
        path: 'network.maxFrameBytes',
        message:
          `must be >= network.maxRecordBytes + network.bufferBytes + ${FRAME_OVERHEAD_BYTES} (= ${needed}), ` +
          `is ${String(maxFrameBytes)}`,
      });
    }
  }

  // distinct JobManager ports
  const portsValid = ok('jobmanager.rpcPort', jm.rpcPort) && ok('jobmanager.restPort', jm.restPort);
  if (portsValid && jm.rpcPort !== 0 && jm.rpcPort === jm.restPort) {
    problems.push({ path: 'jobmanager.restPort', message: `must differ from jobmanager.rpcPort (${String(jm.rpcPort)})` });
  }

  // the secret: the file's wins over TROUPE_SECRET; required in remote mode and off loopback
  const envSecret = env[SECRET_ENV_VAR];
  const envSecretGiven = typeof envSecret === 'string' && envSecret !== '';
  let secret: string | undefined;
  let secretSource: SecretSource | undefined;
  let secretUnusable = false;
  if (raw.secret !== undefined) {
    if (typeof v.secret === 'string' && !bad.has('secret')) {
      secret = v.secret;
      secretSource = 'file';
    } else {
      secretUnusable = true; // already a problem
    }
  } else if (envSecretGiven) {
    if (envSecret.length >= MIN_SECRET_LENGTH) {
      secret = envSecret;
      secretSource = 'env';
    } else {
      secretUnusable = true;
      problems.push({
        path: ENV_SECRET_PATH,
        message:
          `must be at least ${MIN_SECRET_LENGTH} characters ` +
          `(the environment variable ${SECRET_ENV_VAR} is used because the file has no "secret")`,
      });
    }
  }
  if (secret === undefined && !secretUnusable) {
    const exposed: string[] = [];
    if (typeof jm.address === 'string' && !bad.has('jobmanager.address') && !isLoopback(jm.address)) {
      exposed.push(`jobmanager.address "${jm.address}"`);
    }
    if (v.mode === 'remote') {
      groups.forEach((g, i) => {
        const at = `taskExecutors[${i}].host`;
        if (isRecord(g) && typeof g.host === 'string' && !bad.has(at) && !isLoopback(g.host)) {
          exposed.push(`${at} "${g.host}"`);
        }
      });
    }
    const reasons: string[] = [];
    if (v.mode === 'remote') {
      reasons.push(
        'mode is "remote" (agents start TaskExecutors on request, so they must authenticate the JobManager even on loopback)',
      );
    }
    if (exposed.length > 0) reasons.push(`${exposed.join(', ')} ${exposed.length === 1 ? 'is' : 'are'} not loopback`);
    if (reasons.length > 0) {
      problems.push({
        path: 'secret',
        message:
          `is required because ${reasons.join(' and ')}: ` +
          `set "secret" (at least ${MIN_SECRET_LENGTH} characters) in the configuration, or the environment variable ` +
          `${SECRET_ENV_VAR} (e.g. export ${SECRET_ENV_VAR}=$(openssl rand -hex 32))`,
      });
    }
  }

  if (problems.length > 0) {
    const secrets = [typeof raw.secret === 'string' ? raw.secret : undefined, envSecretGiven ? envSecret : undefined];
    const scrubbed = problems.map((p) => ({ path: scrub(p.path, secrets), message: scrub(p.message, secrets) }));
    const where = source === undefined ? '' : ` ${scrub(source, secrets)}`;
    const count = `${scrubbed.length} problem${scrubbed.length === 1 ? '' : 's'}`;
    throw new TroupeError(
      'TROUPE_INVALID_CLUSTER_CONFIG',
      `Invalid cluster configuration${where} (${count}):\n${scrubbed.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
      { details: { ...(source !== undefined ? { source } : {}), problems: scrubbed } },
    );
  }

  const name = v.name as string | undefined;
  const address = jm.address as string;
  const mode = v.mode as ClusterMode;
  return {
    name,
    mode,
    jobmanager: {
      address,
      rpcPort: jm.rpcPort as number,
      restPort: jm.restPort as number,
      restBind: (jm.restBind as string | undefined) ?? address,
    },
    secret,
    secretSource,
    taskExecutors: groups.map((g) => {
      const group = g as { count: number; slots: number; host?: string; agentPort?: number };
      return mode === 'remote'
        ? { count: group.count, slots: group.slots, host: group.host as string, agentPort: group.agentPort as number }
        : { count: group.count, slots: group.slots };
    }),
    network: { ...(network as unknown as ClusterNetworkConfig) },
    heartbeat: { ...(heartbeat as unknown as HeartbeatConfig) },
    workDir:
      typeof v.workDir === 'string' ? path.resolve(v.workDir) : path.join(tmpdir(), `troupe-${name ?? 'cluster'}`),
  };
}

/**
 * Reads and validates a JSON cluster description. Missing, unreadable, not JSON or invalid →
 * TroupeError TROUPE_INVALID_CLUSTER_CONFIG naming the (absolute) file.
 */
export function loadClusterConfig(file: string, env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (thrown) {
    const code = (thrown as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES' || code === 'EPERM'
            ? 'is not readable (permission denied)'
            : `cannot be read (${code ?? String(thrown)})`;
    throw fileError(absolute, reason);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw fileError(absolute, 'is empty (expected a JSON object)');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (thrown) {
    throw fileError(absolute, `is not valid JSON: ${describeJsonError(thrown, text)}`);
  }
  return parseClusterConfig(json, env, absolute);
}

/** DEFAULT: embedded, one TaskExecutor with 4 slots, everything else defaulted (= local.json). */
export const DEFAULT_CLUSTER_CONFIG: ClusterConfig = deepFreeze(
  parseClusterConfig({ mode: 'embedded', taskExecutors: [{ slots: 4 }] }, {}),
);

// ---- helpers ----

function fileError(file: string, reason: string): TroupeError {
  return new TroupeError('TROUPE_INVALID_CLUSTER_CONFIG', `Cluster configuration file ${file} ${reason}`, {
    details: { file, problems: [{ path: ROOT_PATH, message: reason }] },
  });
}

/**
 * JSON.parse's complaint without any quoted input (V8 quotes the text around the error, which may
 * hold the secret), the position as line and column.
 */
function describeJsonError(thrown: unknown, text: string): string {
  const message = thrown instanceof Error ? thrown.message : '';
  const at = /\bposition (\d+)/.exec(message);
  let what = message
    .replace(/^Unexpected token\b.*$/s, 'Unexpected token')
    .replace(/ (?:in JSON )?at position \d+.*$/s, '')
    .trim();
  if (what === '' || what.includes('"') || what.length > 80) what = 'syntax error';
  return at === null ? what : `${what} (${lineColumn(text, Number(at[1]))})`;
}

function lineColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

function toProblem(item: Joi.ValidationErrorItem): ClusterConfigProblem {
  const at = formatPath(item.path);
  if (item.type === 'object.unknown') {
    const key = String(item.path[item.path.length - 1] ?? '');
    const parent = item.path
      .slice(0, -1)
      .map((s) => (typeof s === 'number' ? '[]' : s))
      .join('.')
      .replace(/\.\[\]/g, '[]');
    const suggestion = closest(key, KNOWN_KEYS[parent] ?? []);
    return { path: at, message: suggestion === undefined ? 'is not a known field' : `is not a known field (did you mean "${suggestion}"?)` };
  }
  // Not a schema-level message: `.messages()` are preferences, which the array's items inherit.
  if (at === 'taskExecutors' && item.type === 'any.required') {
    return { path: at, message: 'is required: an array of TaskExecutor groups (objects with "slots")' };
  }
  return { path: at, message: item.message };
}

function formatPath(segments: readonly (string | number)[]): string {
  if (segments.length === 0) return ROOT_PATH;
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** The known key within edit distance 2 of `key` (case-insensitive), if any. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  // Messages never quote values; this is a second line of defence, for secrets long enough to be told apart.
  for (const s of secrets) if (s !== undefined && s.length >= 8) out = out.split(s).join('***');
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
