// The real terraform binary reads what we synthesize, offline: Proxmox stacks name bpg/proxmox
// at the pinned version; local stacks use no provider at all, so init and validate pass.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { $ } from 'zx';
import { synthStage } from '../../../stacks/main';
import { PROXMOX_PROVIDER } from '../../../stacks/provider-pin';
import { offlineTerraformEnv } from '../../../stacks/terraform-offline';
import { loadSite } from '../../../tasks/lib/model/index';
import { fixtureHostKeys } from '../../helpers/host-keys';

const site = loadSite(join(import.meta.dirname, '..', '..', '..', 'inventory', 'site.yaml'));
const work = mkdtempSync(join(tmpdir(), 'homeprod-tf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const tf = (cwd: string) => $({ cwd, env: { ...process.env, ...offlineTerraformEnv(), TF_DATA_DIR: join(cwd, '.terraform') }, quiet: true });

describe('terraform reads the synthesized stacks', () => {
  it.each(['lab', 'prod'] as const)('every %s stack lists bpg/proxmox at the pinned version', async (stage) => {
    const r = synthStage(site, stage, { platform: 'proxmox', stateDir: join(work, 'state'), authorizedKeys: [], hostKeys: fixtureHostKeys, snippetDir: join(work, 'snippets'), outdir: join(work, `proxmox-${stage}`) });
    for (const s of r.stacks) {
      // init sets up the local backend, then cannot install bpg/proxmox: the CLI config allows
      // only the (empty) local mirror, so nothing is fetched. `providers` then reads the config.
      const init = await tf(s.dir)`terraform init -input=false -no-color`.nothrow();
      expect(init.exitCode).not.toBe(0);
      expect(init.stderr + init.stdout).toMatch(/bpg\/proxmox/);
      const out = await tf(s.dir)`terraform providers -no-color`;
      expect(out.stdout).toContain(`provider[registry.terraform.io/${PROXMOX_PROVIDER.source}] ${PROXMOX_PROVIDER.version}`);
    }
  }, 60_000);

  it('inits and validates the local-platform stacks with no provider and no network', async () => {
    const r = synthStage(site, 'lab', { platform: 'local', stateDir: join(work, 'state'), authorizedKeys: ['ssh-ed25519 AAAAtest op'], outdir: join(work, 'local-lab') });
    for (const s of r.stacks) {
      const json = JSON.parse(readFileSync(join(s.dir, 'cdk.tf.json'), 'utf8'));
      expect(json.provider).toBeUndefined();
      expect(json.terraform.required_providers).toBeUndefined();
      const resources = Object.keys(json.resource);
      expect(resources).toEqual(['terraform_data']);
      await tf(s.dir)`terraform init -backend=false -input=false -no-color`;
      const validate = await tf(s.dir)`terraform validate -json`;
      expect(JSON.parse(validate.stdout)).toMatchObject({ valid: true, error_count: 0 });
    }
  }, 120_000);

  it('local stacks hand tasks/local.ts the spec through the agreed contract', () => {
    const r = synthStage(site, 'lab', { platform: 'local', stateDir: join(work, 'state'), authorizedKeys: ['ssh-ed25519 AAAAtest op'], outdir: join(work, 'local-lab2') });
    const host = site.hosts.find((h) => h.stage === 'lab' && h.dataStackName)!;
    const vm = JSON.parse(readFileSync(join(r.outdir, 'stacks', host.stackName, 'cdk.tf.json'), 'utf8'));
    const data = JSON.parse(readFileSync(join(r.outdir, 'stacks', host.dataStackName!, 'cdk.tf.json'), 'utf8'));
    const vmRes = Object.values(vm.resource.terraform_data)[0] as any;
    const diskRes = Object.values(data.resource.terraform_data)[0] as any;
    expect(vmRes.provisioner.map((p: any) => p['local-exec'])).toEqual([
      { command: 'npx --no-install tsx tasks/local.ts vm create', environment: { HOMEPROD_VM: '${jsonencode(self.input)}' }, working_dir: '../../..' },
      { command: 'npx --no-install tsx tasks/local.ts vm destroy', environment: { HOMEPROD_VM: '${jsonencode(self.input)}' }, working_dir: '../../..', when: 'destroy' },
    ]);
    expect(diskRes.provisioner[1]['local-exec']).toEqual({
      command: 'npx --no-install tsx tasks/local.ts disk destroy', environment: { HOMEPROD_DISK: '${jsonencode(self.input)}' }, working_dir: '../../..', when: 'destroy',
    });
    expect(diskRes.lifecycle).toEqual({ prevent_destroy: true });
    expect(vmRes.input.name).toBe(host.name);
    expect(vmRes.input.authorizedKeys).toEqual(['ssh-ed25519 AAAAtest op']);
    expect(vmRes.input.dataDisks[0].owner).toMatch(/^\$\{data\.terraform_remote_state\./);
    expect(vmRes.triggers_replace).toEqual(vmRes.input);
    expect(Object.keys(vm.output)).toEqual(['host']);
    expect(vmRes.input.forward).toBeUndefined();
  });

  it('the passthrough\'s machine carries the stage\'s loopback forward', () => {
    const r = synthStage(site, 'prod', { platform: 'local', stateDir: join(work, 'state'), authorizedKeys: ['ssh-ed25519 AAAAtest op'], outdir: join(work, 'local-prod') });
    const vm = JSON.parse(readFileSync(join(r.outdir, 'stacks', 'prod-proxy-passthrough-vm', 'cdk.tf.json'), 'utf8'));
    const vmRes = Object.values(vm.resource.terraform_data)[0] as any;
    expect(vmRes.input.forward).toEqual({ address: '127.0.0.1', httpPort: 8080, httpsPort: 8443 });
  });
});
