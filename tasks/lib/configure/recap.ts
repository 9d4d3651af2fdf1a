// Reading ansible-playbook's default output: the PLAY RECAP (counts per host, so callers can
// assert "a second run changed nothing") and the failures worth one line each.

export interface RecapCounts {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

const RECAP_LINE = /^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$/;

/** Counts per host from the PLAY RECAP section; empty when the run never got there. */
export function parseRecap(text: string): Record<string, RecapCounts> {
  const start = text.lastIndexOf('PLAY RECAP');
  if (start < 0) return {};
  const recap: Record<string, RecapCounts> = {};
  for (const line of text.slice(start).split('\n').slice(1)) {
    const match = RECAP_LINE.exec(line.trim());
    if (!match) continue;
    const counts: RecapCounts = { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
    for (const pair of match[2]!.trim().split(/\s+/)) {
      const [key, value] = pair.split('=') as [string, string];
      if (key in counts) counts[key as keyof RecapCounts] = Number(value);
    }
    recap[match[1]!] = counts;
  }
  return recap;
}

export const totalChanged = (recap: Record<string, RecapCounts>) => Object.values(recap).reduce((sum, c) => sum + c.changed, 0);

export const hostsWithProblems = (recap: Record<string, RecapCounts>) =>
  Object.entries(recap)
    .filter(([, c]) => c.failed > 0 || c.unreachable > 0)
    .map(([host]) => host);

const FAILURE = /^(fatal|failed): \[([^\]]+)\](?: \(item=(.*?)\))?:? (?:(?:FAILED|UNREACHABLE)! )?=> (.*)$/;

/**
 * One line per failed task: host, item and the module's message. Ansible prints the result
 * as JSON on one line in the default callback; when that does not parse, the raw text is kept.
 */
export function failureLines(text: string): string[] {
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('ERROR!')) {
      lines.push(line);
      continue;
    }
    const match = FAILURE.exec(line);
    if (!match) continue;
    const [, , host, item, payload] = match;
    let message = payload!;
    try {
      const result = JSON.parse(payload!) as { msg?: string; stderr?: string };
      message = [result.msg, result.stderr].filter((part) => part && part.trim()).join(': ') || payload!;
    } catch {
      // keep the raw payload
    }
    lines.push(`${host}${item ? ` (${item})` : ''}: ${message.replace(/\s+/g, ' ').trim()}`);
  }
  return lines;
}
