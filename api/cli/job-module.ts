/**
 * Job modules: a file exporting `default (env, args) => void | Promise<void>`.
 *
 * The client bundles the module with esbuild (TypeScript and JavaScript alike). `troupe` is never
 * bundled: it resolves, where the bundle runs, to the runtime that loads it (client or
 * TaskExecutor), so classes are shared. A bundle for a cluster (`ship`) carries every other
 * dependency inside, so it runs on a TaskExecutor that has none of them installed, and two jobs
 * with conflicting dependency versions run side by side (each bundle has its own copy, loaded as
 * its own module). An embedded run leaves bare imports to resolve from the job's folder.
 */
import { existsSync, statSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { TroupeError } from '../../core/errors.js';
import type { StreamExecutionEnvironment } from '../datastream/environment.js';

export type JobFunction = (env: StreamExecutionEnvironment, args: string[]) => void | Promise<void>;

const RUNTIME = Symbol.for('troupe.runtime');
const RUNTIME_SHIM = `module.exports = globalThis[Symbol.for('troupe.runtime')];`;

const troupeRuntime: Plugin = {
  name: 'troupe-runtime',
  setup(b) {
    b.onResolve({ filter: /^troupe$/ }, () => ({ path: 'troupe', namespace: 'troupe-runtime' }));
    b.onLoad({ filter: /.*/, namespace: 'troupe-runtime' }, () => ({ contents: RUNTIME_SHIM, loader: 'js' }));
  },
};

export interface BundleOptions {
  /** Bundle every dependency (for TaskExecutors in other processes). */
  readonly ship?: boolean;
}

export async function bundleJobModule(file: string, options: BundleOptions = {}): Promise<string> {
  const abs = path.resolve(file);
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${file} does not exist`);
  }
  if (!/\.(c|m)?(t|j)sx?$/.test(abs)) {
    throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${file} must be a .ts or .js file`);
  }
  try {
    const out = await build({
      entryPoints: [abs],
      bundle: true,
      ...(options.ship === true ? {} : { packages: 'external' as const }),
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      sourcemap: 'inline',
      logLevel: 'silent',
      plugins: [troupeRuntime],
    });
    return out.outputFiles[0]!.text;
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors ?? [];
    const detail = errors.map((e) => (e.location ? `${e.location.line}:${e.location.column} ${e.text}` : e.text)).join('; ');
    throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${file} does not compile: ${detail || String(error)}`);
  }
}

/**
 * Makes `troupe` resolvable for job bundles. Loading the runtime takes a while the first time; a
 * TaskExecutor calls this at start so its first deployment does not stall its mailbox.
 */
export function installJobRuntime(): void {
  const g = globalThis as unknown as Record<symbol, unknown>;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  g[RUNTIME] ??= require('../../index.js');
}

/**
 * Evaluates a bundle as its own CommonJS module named `filename` (bare imports of an unshipped
 * bundle resolve from that file's folder) and returns its job function.
 */
export function evaluateJobBundle(code: string, filename: string): JobFunction {
  installJobRuntime();
  const m = new Module(filename, module);
  m.filename = filename;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(filename));
  try {
    (m as unknown as { _compile(code: string, filename: string): void })._compile(code, filename);
  } catch (error) {
    throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${path.basename(filename)} failed while loading: ${error instanceof Error ? error.message : String(error)}`);
  }
  const exported = m.exports as { default?: unknown } | undefined;
  const fn = exported?.default ?? (typeof exported === 'function' ? exported : undefined);
  if (typeof fn !== 'function') {
    throw new TroupeError(
      'TROUPE_INVALID_JOB_MODULE',
      `job module ${path.basename(filename)} must export a default function (env, args) => void; it exports ${Object.keys(exported ?? {}).join(', ') || 'nothing'}`,
    );
  }
  return fn as JobFunction;
}

export async function loadJobModule(file: string): Promise<JobFunction> {
  const code = await bundleJobModule(file);
  return evaluateJobBundle(code, path.resolve(file));
}
