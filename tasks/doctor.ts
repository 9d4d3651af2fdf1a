// Checks a stage's Proxmox VE cluster before anything is applied: the API for real (HTTPS,
// certificate verified), the token's privileges, the datastores, the cloud images, the provider
// for Terraform, and SSH to the node. `up` and `apply` run the same checks first.
import { loadSite } from './lib/model/index';
import { STAGES, type StageName } from './lib/model/types';
import { doctorStage, problemsOf, proxmoxStages } from './lib/platform/proxmox/doctor';
import { command, insecureFlag, oneOf, siteFile, siteFlag, stageFlag } from './lib/ui/cli';
import { EXIT } from './lib/ui/errors';

const spec = {
  usage: 'npx tsx tasks/doctor.ts [--stage lab|prod|all] [--insecure] [--site FILE]',
  summary:
    'Check what a Proxmox stage needs before `up`: the API (version, certificate, PROXMOX_VE_API_TOKEN), the node(s),\n' +
    'each datastore and its content types, the token\'s privileges for what the stacks create, the cloud images\' URL and\n' +
    'sha256, bpg/proxmox for Terraform (mirror or HOMEPROD_TF_REGISTRY=direct), and SSH to the node (sshUser, ssh-agent,\n' +
    '~/.ssh/known_hosts). Each problem is one line saying what to do (on stderr); any problem exits 3. Writes nothing.\n' +
    'Default: every stage on platform proxmox; --stage checks a stage\'s proxmox settings before you switch it over.',
  flags: {
    ...stageFlag('lab, prod or all (default: the stages on platform proxmox)'),
    ...insecureFlag,
    ...siteFlag,
  },
} as const;

await command(spec, async (values, out) => {
  const site = loadSite(siteFile(values));
  const which = values.stage === undefined ? null : oneOf('stage', values.stage, [...STAGES, 'all'] as const);
  const stages = which === null ? proxmoxStages(site) : (which === 'all' ? [...STAGES] : [which as StageName]).map((s) => site.stages[s]);
  if (stages.length === 0) {
    out.line('No stage runs on platform proxmox (stages.<stage>.platform): nothing to check. --stage lab checks lab\'s proxmox settings anyway.');
    return EXIT.ok;
  }
  let problems = 0;
  for (const stage of stages) {
    const doctor = await doctorStage(site, stage, { env: process.env, insecure: Boolean(values.insecure) });
    out.line(`${stage.name}: ${stage.proxmox.endpoint}${doctor.version ? ` (Proxmox VE ${doctor.version})` : ''}, node ${stage.proxmox.nodes[0]}, platform ${stage.platform}`);
    for (const r of doctor.results) out.line(`  ${r.skipped ? '-' : r.problems.length ? '✖' : '✔'} ${r.title}${r.skipped ? ' (skipped: the API did not answer)' : ''}`);
    for (const problem of problemsOf(doctor)) out.error(`${stage.name}: ${problem}`);
    problems += problemsOf(doctor).length;
  }
  return problems > 0 ? EXIT.precondition : EXIT.ok;
});
