// Each policy aspect, made to fail on a real stack: synthesis throws and writes nothing.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { App, TerraformStack } from 'cdktn';
import { ProxmoxVm } from '../../../stacks/constructs/proxmox-vm';
import { buildStacks, synthStage } from '../../../stacks/main';
import { applyPolicy } from '../../../stacks/policy';
import { VmStack } from '../../../stacks/vm-stack';
import type { Site } from '../../../tasks/lib/model/types';
import { fixtureHostKeys } from '../../helpers/host-keys';
import { pegasusSite } from '../../helpers/site-fixture';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'homeprod-policy-'));
  dirs.push(d);
  return d;
};
const options = { stateDir: '/var/lib/homeprod-test/state', authorizedKeys: [], hostKeys: fixtureHostKeys, snippetDir: tmp() };

/** Builds the lab stage, lets `mutate` break it, and returns synthesis's error message. */
function synthError(mutate: (app: App, built: ReturnType<typeof buildStacks>, site: Site) => void, site = pegasusSite()): string {
  const app = new App({ outdir: tmp(), stackTraces: false });
  const built = buildStacks(app, site, 'lab', options);
  mutate(app, built, site);
  try {
    app.synth();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('synthesis succeeded although the policy should have failed it');
}

const proxmoxVm = (stack: TerraformStack) => stack.node.findAll().find((c): c is ProxmoxVm => c instanceof ProxmoxVm)!;

describe('policy aspects', () => {
  it('pass on the Pegasus site', () => {
    const out = tmp();
    const result = synthStage(pegasusSite(), 'lab', { ...options, outdir: out });
    expect(result.stacks.length).toBeGreaterThan(0);
  });

  it('naming: a stack must be named after the VM it creates', () => {
    const site = pegasusSite();
    const host = site.hosts.find((h) => h.name === 'lab-proxy')!;
    host.stackName = 'lab-frontdoor-vm';
    expect(synthError(() => {}, site)).toContain('naming: stack "lab-frontdoor-vm" must be named "lab-proxy-vm"');
  });

  it('stage tag: every VM carries its stage tag', () => {
    const message = synthError((_app, built) => {
      const vm = proxmoxVm(built.vms.find((s) => s.node.id === 'lab-demo-vm')!);
      vm.vm.tags = ['application', 'external'];
    });
    expect(message).toContain('stage tag: VM "lab-demo" must carry the tag "lab" (has: application, external)');
  });

  it('data protection: a data VM without protection fails unless destruction was allowed', () => {
    const message = synthError((_app, built) => {
      const data = built.data.find((s) => s.node.id === 'lab-certbot-data-vm')!;
      const vm = data.node.findAll().find((c) => c.node.id === 'vm') as unknown as { protection: boolean };
      vm.protection = false;
    });
    expect(message).toContain('data protection: data VM "lab-certbot-data" must be protected');
    // The explicit, confirmed path: allowDataDestroy lifts protection and passes policy.
    const r = synthStage(pegasusSite(), 'lab', { ...options, allowDataDestroy: true, outdir: tmp() });
    expect(r.stacks.some((s) => s.kind === 'data')).toBe(true);
  });

  it('data disks: no data disk is attached to two VMs', () => {
    const site = pegasusSite();
    // lab-demo claims lab-certbot's data disks: same data VM, second consumer.
    const demo = site.hosts.find((h) => h.name === 'lab-demo')!;
    const certbot = site.hosts.find((h) => h.name === 'lab-certbot')!;
    const app = new App({ outdir: tmp(), stackTraces: false });
    const built = buildStacks(app, site, 'lab', options);
    const certbotData = built.data.find((s) => s.node.id === certbot.dataStackName)!;
    // A second VM stack wired to lab-certbot's data stack.
    demo.dataDisks = certbot.dataDisks;
    demo.dataVmName = certbot.dataVmName;
    demo.stackName = 'lab-demo2-vm';
    demo.name = 'lab-demo2';
    demo.vmid = 5099;
    expect(() => {
      const extra = new VmStack(app, { site, host: demo, stage: site.stages.lab, platform: 'proxmox', stateDir: options.stateDir, authorizedKeys: [], hostKeys: options.hostKeys, snippetDir: options.snippetDir, data: certbotData, cloudInitTasks: [] });
      void extra;
      // Policy again over every stack, the new one included (fresh aspect instances).
      applyPolicy(app, site);
      app.synth();
    }).toThrow(/data disks: "lab-certbot-data\/letsencrypt" is attached to both "lab-certbot" and "lab-demo2"/);
  });

  it('vmid: VMIDs lie in the stage range', () => {
    const site = pegasusSite();
    site.hosts.find((h) => h.name === 'lab-proxy')!.vmid = 4011;
    expect(synthError(() => {}, site)).toContain("vmid: VM \"lab-proxy\" has VMID 4011, outside lab's range 5001-5999");
  });

  it('a failed synthesis leaves no stack directory behind', () => {
    const site = pegasusSite();
    site.hosts.find((h) => h.name === 'lab-proxy')!.vmid = 4011;
    const out = tmp();
    expect(() => synthStage(site, 'lab', { ...options, outdir: out })).toThrow(/outside lab's range/);
    expect(existsSync(join(out, 'stacks')) ? readdirSync(join(out, 'stacks')) : []).toEqual([]);
    expect(readdirSync(out)).toEqual([]);
  });
});
