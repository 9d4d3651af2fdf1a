// Verify's results for people: one line per failure, and a table of every check.
import type { VerifyResult } from './routing';

/** One line per failure, for an error's details. */
export function failureLines(results: VerifyResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `${r.hostname}${r.service ? ` (${r.service})` : ''}: ${r.problem ?? 'failed'}`);
}

/** A table of the results, for people. */
export function resultTable(results: VerifyResult[]): string[] {
  const rows = results.map((r) => [r.ok ? 'ok' : 'FAIL', r.hostname, r.service ?? '-', r.proxy ?? '-', r.backendHost ?? '-', r.client ?? '-', r.ok ? (r.kind === 'service' ? '' : (r.problem ?? '')) : (r.problem ?? '')]);
  const head = ['', 'name', 'service', 'proxy', 'backend', 'client', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}
