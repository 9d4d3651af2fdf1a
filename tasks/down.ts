// Destroys the VMs of a stage through Terraform; data disks only when asked, with a typed
// confirmation of the stage name.
import { applySteps, type ApplyContext } from './lib/apply';
import { loadSite, type StageName } from './lib/model';
import { acquireSiteLock } from './lib/shared/run-lock';
import { command, insecureFlag, siteFile, siteFlag, stageFlag, stagesOf, verboseFlag, yesFlag } from './lib/ui/cli';
import { EXIT, HomeprodError } from './lib/ui/errors';
import { runSteps, type Step } from './lib/ui/listr';
import { canPrompt, confirmInTask, terminalPrompter } from './lib/ui/prompts';

const spec = {
  usage: 'npx tsx tasks/down.ts [--stage lab|prod|all] [--host NAME ...] [--yes] [--destroy-data] [--insecure] [--site FILE] [--verbose]',
  summary:
    'Destroy the stage\'s VMs through Terraform (prod before lab with --stage all). Data disks are kept, so a later\n' +
    '`up` re-attaches them; --destroy-data destroys them too, after you type the stage name (or with --yes).\n' +
    'With --host, only those hosts. A host deleted from the site needs no `down`: `up` destroys its VM and keeps\n' +
    'its data disk; to destroy that disk, put the host back and run `down --host NAME --destroy-data`.',
  flags: {
    ...stageFlag('lab, prod or all (default all)'),
    host: { type: 'string', multiple: true, help: 'only this host\'s VM (and, with --destroy-data, its data disk); repeat for more hosts' },
    ...yesFlag('do not ask (with --destroy-data: also skips typing the stage name)'),
    'destroy-data': { type: 'boolean', help: 'also destroy the data disks: their data is lost' },
    ...insecureFlag,
    ...siteFlag,
    ...verboseFlag('also each step\'s start and every line of Terraform\'s output, labelled [stack]'),
  },
} as const;

await command(spec, async (values, out) => {
  const chosen = stagesOf(values, ['prod', 'lab']);
  const site = loadSite(siteFile(values));
  const hosts = values.host?.map((name) => {
    const host = site.hosts.find((h) => h.name === name);
    if (!host) throw new HomeprodError(`--host ${name}: no such host in ${site.file}`, EXIT.usage);
    if (!chosen.includes(host.stage)) throw new HomeprodError(`--host ${name}: in stage ${host.stage}, not ${chosen.join(', ')}`, EXIT.usage);
    return host;
  });
  const stages: StageName[] = chosen.filter((stage) => !hosts || hosts.some((h) => h.stage === stage));
  const hostsOf = (stage: StageName) => hosts?.filter((h) => h.stage === stage).map((h) => h.name);
  const destroyData = Boolean(values['destroy-data']);
  if (destroyData && !values.yes) {
    if (!canPrompt()) throw new HomeprodError('--destroy-data needs the stage name typed as confirmation, and there is no terminal to ask', EXIT.refused, 'pass --yes together with --destroy-data');
    for (const stage of stages) {
      const typed = await terminalPrompter.input({ message: `This destroys the ${stage} data disks and their data. Type "${stage}" to go ahead:` });
      if (typed.trim() !== stage) throw new HomeprodError(`not destroyed: typed "${typed.trim()}", not "${stage}"`, EXIT.refused);
    }
  }
  const lock = await acquireSiteLock(site, { say: (line) => out.line(line) });
  try {
    const steps: Step<ApplyContext>[] = stages.map((stage) => ({
      title: `Destroy the ${stage} VMs${destroyData ? ' and data disks' : ''}${hostsOf(stage) ? ` of ${hostsOf(stage)!.join(', ')}` : ''}`,
      task: (_ctx, task) =>
        task.newListr(
          applySteps({
            stage,
            site,
            destroy: true,
            destroyData,
            hosts: hostsOf(stage),
            insecure: Boolean(values.insecure),
            yes: Boolean(values.yes) || destroyData,
            confirm: canPrompt() ? (t, message) => confirmInTask(t, message) : undefined,
          }),
        ),
    }));
    await runSteps<ApplyContext>(steps, {}, { verbose: values.verbose });
    const what = hosts ? hosts.map((h) => h.name).join(', ') : stages.join(' and ');
    out.line(destroyData ? `Destroyed ${what}, data disks included.` : `Destroyed the ${what} VMs; their data disks are kept.`);
  } finally {
    lock.release();
  }
});
