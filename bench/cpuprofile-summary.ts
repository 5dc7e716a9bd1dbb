/**
 * Summarizes V8 .cpuprofile files (from `node --cpu-prof`): self time per function and per file,
 * top N. `node dist/bench/cpuprofile-summary.js <file.cpuprofile>... [--top N]`, or from code.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  /** (idle), (program), (garbage collector) and the like. */
  readonly special: readonly SelfTime[];
  readonly functions: readonly SelfTime[];
  readonly files: readonly SelfTime[];
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const u = url.replace(/^file:\/\//, '');
  const i = u.lastIndexOf('/dist/');
  if (i >= 0) return u.slice(i + 6);
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  if (u.startsWith('node:')) return u;
  return path.basename(u);
}

export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute the gap after sample i to sample i
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const fns = new Map<string, SelfTime>();
  const files = new Map<string, number>();
  const special = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName.startsWith('(') && url === '') {
      special.set(functionName, (special.get(functionName) ?? 0) + us);
      continue;
    }
    const where = url === '' ? '(native)' : `${shortUrl(url)}:${lineNumber + 1}`;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const key = `${name} ${where}`;
    const prev = fns.get(key);
    fns.set(key, { name, where, ms: (prev?.ms ?? 0) + us / 1000 });
    const f = url === '' ? '(native)' : shortUrl(url);
    files.set(f, (files.get(f) ?? 0) + us);
  }
  const desc = (a: SelfTime, b: SelfTime): number => b.ms - a.ms;
  return {
    file,
    totalMs: total / 1000,
    special: [...special].map(([name, us]) => ({ name, where: '', ms: us / 1000 })).sort(desc),
    functions: [...fns.values()].sort(desc),
    files: [...files].map(([name, us]) => ({ name, where: '', ms: us / 1000 })).sort(desc),
  };
}

export function printProfileSummary(s: ProfileSummary, top = 25, log: (line: string) => void = console.log): void {
  const pct = (ms: number): string => `${((ms / s.totalMs) * 100).toFixed(1).padStart(5)} %`;
  log(`  ${path.basename(s.file)}: ${(s.totalMs / 1000).toFixed(2)} s sampled; ${s.special.map((x) => `${x.name} ${pct(x.ms).trim()}`).join(', ')}`);
  const busy = s.totalMs - (s.special.find((x) => x.name === '(idle)')?.ms ?? 0);
  log(`    top self time (% of all samples; non-idle = ${(busy / 1000).toFixed(2)} s):`);
  for (const f of s.functions.slice(0, top)) log(`    ${pct(f.ms)}  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`);
  log(`    by file:`);
  for (const f of s.files.slice(0, Math.min(12, top))) log(`    ${pct(f.ms)}  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args[t + 1]) : 25;
  const files = args.filter((a, i) => a !== '--top' && (t < 0 || i !== t + 1));
  if (files.length === 0) {
    console.log('usage: node dist/bench/cpuprofile-summary.js <file.cpuprofile>... [--top N]');
    process.exitCode = 2;
  }
  for (const f of files) printProfileSummary(summarizeProfile(f), top);
}
