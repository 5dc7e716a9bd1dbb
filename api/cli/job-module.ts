/**
 * Loads a job module: a file exporting `default (env, args) => void | Promise<void>`.
 * TypeScript and JavaScript alike are bundled by esbuild (bare imports stay external and resolve
 * from the job's own folder; `troupe` resolves to this very package, so classes are shared).
 */
import { existsSync, statSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { TroupeError } from '../../core/errors.js';
import type { StreamExecutionEnvironment } from '../datastream/environment.js';

export type JobFunction = (env: StreamExecutionEnvironment, args: string[]) => void | Promise<void>;

const SELF = path.resolve(__dirname, '..', '..', 'index.js');

const troupeSelf: Plugin = {
  name: 'troupe-self',
  setup(b) {
    b.onResolve({ filter: /^troupe$/ }, () => ({ path: SELF, external: true }));
  },
};

export async function bundleJobModule(file: string): Promise<string> {
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
      packages: 'external',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      sourcemap: 'inline',
      logLevel: 'silent',
      plugins: [troupeSelf],
    });
    return out.outputFiles[0]!.text;
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors ?? [];
    const detail = errors.map((e) => (e.location ? `${e.location.line}:${e.location.column} ${e.text}` : e.text)).join('; ');
    throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${file} does not compile: ${detail || String(error)}`);
  }
}

export async function loadJobModule(file: string): Promise<JobFunction> {
  const code = await bundleJobModule(file);
  const abs = path.resolve(file);
  const m = new Module(abs, module);
  m.filename = abs;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(abs));
  try {
    (m as unknown as { _compile(code: string, filename: string): void })._compile(code, abs);
  } catch (error) {
    throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${file} failed while loading: ${error instanceof Error ? error.message : String(error)}`);
  }
  const exported = m.exports as { default?: unknown } | undefined;
  const fn = exported?.default ?? (typeof exported === 'function' ? exported : undefined);
  if (typeof fn !== 'function') {
    throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${file} must export a default function (env, args) => void; it exports ${Object.keys(exported ?? {}).join(', ') || 'nothing'}`);
  }
  return fn as JobFunction;
}
