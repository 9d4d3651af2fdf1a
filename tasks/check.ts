// Validates the site and prints a summary per stage. Writes nothing.
import { checkSteps, providerLines, stageSummary, type CheckContext } from './lib/check';
import { STAGES } from './lib/model';
import { command, siteFile, siteFlag, verboseFlag } from './lib/ui/cli';
import { runSteps } from './lib/ui/listr';

const spec = {
  usage: 'npx tsx tasks/check.ts [--site FILE] [--verbose]',
  summary: 'Validate the site file and print, per stage, its hosts (IP, VMID, roles, data disks) and services (route),\nthen the pinned Terraform providers of each platform.',
  flags: { ...siteFlag, ...verboseFlag('plain, line-by-line progress') },
} as const;

await command(spec, async (values, out) => {
  const ctx = await runSteps<CheckContext>(checkSteps(), { siteFile: siteFile(values) }, { verbose: values.verbose });
  for (const stage of STAGES) {
    out.line();
    for (const line of stageSummary(ctx.site!, stage)) out.line(line);
  }
  out.line();
  for (const line of providerLines(ctx.site!)) out.line(line);
});
