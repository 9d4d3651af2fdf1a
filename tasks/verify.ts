// Checks every service of a stage for real, from outside: through the passthrough (on the local
// platform, through the emulated NAT on loopback). Exit 1 with one line per failing check.
import { loadSite } from './lib/model';
import { outputsFromModel, readOutputsFile } from './lib/render';
import { command, oneStage, siteFile, siteFlag, stageFlag, verboseFlag } from './lib/ui/cli';
import { EXIT, HomeprodError } from './lib/ui/errors';
import { runSteps } from './lib/ui/listr';
import { failureLines, resultTable, verifySteps, type VerifyContext } from './lib/verify';

const spec = {
  usage: 'npx tsx tasks/verify.ts --stage lab|prod [--site FILE] [--outputs FILE] [--verbose]',
  summary:
    'Verify a configured stage: a real TLS handshake per service name through the passthrough (locally through\n' +
    'the loopback forward), trusting the stage CA that configure fetched. Each name must present its own\n' +
    'certificate and be answered by its backend via the stage\'s proxy, which must have seen the client\'s address\n' +
    'through the PROXY protocol; an unknown name and a client without SNI must reach nothing.',
  flags: {
    ...stageFlag(),
    ...siteFlag,
    outputs: { type: 'string', help: 'JSON of the applied hosts (default: the addresses the site model gives them)' },
    ...verboseFlag(),
  },
} as const;

await command(spec, async (values, out) => {
  const stage = oneStage(values);
  const site = loadSite(siteFile(values));
  const outputs = values.outputs ? readOutputsFile(values.outputs) : outputsFromModel(site);
  const ctx = await runSteps<VerifyContext>(verifySteps({ stage }), { site, outputs }, { verbose: values.verbose });
  const results = ctx.verified?.[stage] ?? [];
  out.line();
  for (const line of resultTable(results)) out.line(line);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) throw new HomeprodError(`${failed.length} of ${results.length} ${stage} checks failed`, EXIT.failed, undefined, failureLines(results));
});
