// Validates the site and prints a summary per stage. Writes nothing.
import { parseFlags, helpText, runMain } from './lib/cli';
import { checkSteps, stageSummary, type CheckContext } from './lib/check';
import { runSteps } from './lib/listr';
import { DEFAULT_SITE_FILE, STAGES } from './lib/model';

const spec = {
  usage: 'npx tsx tasks/check.ts [--site FILE] [--verbose]',
  summary: 'Validate the site file and print, per stage, its hosts (IP, VMID, roles, data disks) and services (route).',
  options: { site: { type: 'string' }, verbose: { type: 'boolean' } },
  optionHelp: { site: `site file (default ${DEFAULT_SITE_FILE})`, verbose: 'plain, line-by-line progress' },
} as const;

await runMain(async (out) => {
  const { values } = parseFlags(spec);
  if (values.help) return out.line(helpText(spec));
  const ctx = await runSteps<CheckContext>(checkSteps(), { siteFile: values.site ?? DEFAULT_SITE_FILE }, { verbose: values.verbose });
  for (const stage of STAGES) {
    out.line();
    for (const line of stageSummary(ctx.site!, stage)) out.line(line);
  }
});
