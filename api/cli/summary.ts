/** Human-readable job summaries for the CLI. */
import type { JobResult, TaskMetrics } from '../../actors/protocol/job-status.js';

const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;

export function formatSummary(result: JobResult): string {
  const lines: string[] = [];
  lines.push(`Job '${result.name}' (${result.jobId}) ${result.status} in ${result.durationMs} ms`);
  if (result.error !== undefined) {
    lines.push(`  error ${result.error.code}: ${result.error.message}`);
    if (result.error.cause?.stack !== undefined) lines.push(indent(result.error.cause.stack, '    '));
  }
  const rows = result.operators.map((o) => [o.name, String(o.parallelism), String(o.recordsIn), String(o.recordsOut)]);
  lines.push(...table(['operator', 'parallelism', 'records in', 'records out'], rows));
  const trows = result.tasks.map((t: TaskMetrics) => [`${t.vertex}#${t.subtask}`, t.state, pct(t.busyRatio), pct(t.backpressuredRatio), pct(t.idleRatio)]);
  lines.push(...table(['task', 'state', 'busy', 'backpressured', 'idle'], trows));
  return lines.join('\n');
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(head), ...rows.map(fmt)];
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}
