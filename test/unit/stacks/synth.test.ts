// Synthesis of the Pegasus site (inventory/site.yaml) on the Proxmox platform: golden
// cdk.tf.json per stack and stage, plus the properties that matter checked directly.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { synthStage, type SynthResult } from '../../../stacks/main';
import { PROXMOX_PROVIDER } from '../../../stacks/provider-pin';
import { loadSite, type Site, type StageName } from '../../../tasks/lib/model/index';
import { parse as parseYaml } from 'yaml';
import { compareGolden } from '../../helpers/golden';
import { fixtureHostKeys } from '../../helpers/host-keys';

// A fixed state dir keeps absolute backend paths stable in the golden files.
const STATE_DIR = '/var/lib/homeprod-golden/state';
const FAKE_TOKEN = 'terraform@pve!homeprod=0b5e9c1e-7a41-4c36-9d0e-5ecre7t0ken0';
const site: Site = loadSite(join(import.meta.dirname, '..', '..', '..', 'inventory', 'site.yaml'));
const out = mkdtempSync(join(tmpdir(), 'homeprod-synth-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
// The user-data snippets are written under a temporary directory; the golden files name it
// by this fixed path, and only that path is replaced before comparing.
const SNIPPETS_GOLDEN = '/var/lib/homeprod-golden/snippets';
const snippetDir = (stage: StageName) => join(out, 'snippets', stage);
// root's keys as the synthesizer passes them: the site's users, then the stage's control node.
const ROOT_KEYS = [...site.users.flatMap((u) => u.sshKeys), fixtureHostKeys('control-node').publicKey];

type Json = Record<string, any>;
const results = new Map<StageName, SynthResult>();
function synth(stage: StageName): SynthResult {
  let r = results.get(stage);
  if (!r) {
    process.env.PROXMOX_VE_API_TOKEN = FAKE_TOKEN;
    try {
      r = synthStage(site, stage, {
        platform: 'proxmox', stateDir: STATE_DIR, authorizedKeys: ROOT_KEYS, hostKeys: fixtureHostKeys, snippetDir: snippetDir(stage), outdir: join(out, stage),
      });
    } finally {
      delete process.env.PROXMOX_VE_API_TOKEN;
    }
    results.set(stage, r);
  }
  return r;
}
const readStack = (r: SynthResult, name: string): Json => JSON.parse(readFileSync(join(r.outdir, 'stacks', name, 'cdk.tf.json'), 'utf8'));
const only = <T>(m: Record<string, T>): T => {
  const values = Object.values(m);
  expect(values).toHaveLength(1);
  return values[0]!;
};

describe.each(['lab', 'prod'] as const)('proxmox stacks, %s stage', (stage) => {
  it('writes one stack per VM and per data VM, matching the golden files', () => {
    const r = synth(stage);
    const hosts = site.hosts.filter((h) => h.stage === stage);
    const expected = [...hosts.map((h) => h.stackName), ...hosts.flatMap((h) => (h.dataStackName ? [h.dataStackName] : []))].sort();
    expect(r.stacks.map((s) => s.name).sort()).toEqual(expected);
    expect(readdirSync(join(r.outdir, 'stacks')).sort()).toEqual(expected);
    const mismatches = r.stacks
      .map((s) => compareGolden(`stacks-proxmox-${stage}`, `${s.name}.tf.json`, readFileSync(join(s.dir, 'cdk.tf.json'), 'utf8').replaceAll(snippetDir(stage), `${SNIPPETS_GOLDEN}/${stage}`)))
      .filter((m): m is string => m !== null);
    expect(mismatches).toEqual([]);
  });

  it('pins bpg/proxmox exactly and keeps state outside cdktf.out', () => {
    const r = synth(stage);
    for (const s of r.stacks) {
      const json = readStack(r, s.name);
      expect(json.terraform.required_providers.proxmox).toEqual({ source: PROXMOX_PROVIDER.source, version: PROXMOX_PROVIDER.version });
      expect(json.terraform.backend.local.path).toBe(`${STATE_DIR}/${stage}/${s.name}.tfstate`);
    }
  });

  it('attaches each data VM disk by path_in_datastore from the data stack, on the same interface', () => {
    const r = synth(stage);
    for (const host of site.hosts.filter((h) => h.stage === stage && h.dataDisks.length > 0)) {
      const vm = only(readStack(r, host.stackName).resource.proxmox_virtual_environment_vm as Record<string, Json>);
      const remote = Object.keys(readStack(r, host.stackName).data.terraform_remote_state);
      expect(remote).toEqual([`cross-stack-reference-input-${host.dataStackName}`]);
      const attached = (vm.disk as Json[]).filter((d) => d.interface !== 'scsi0');
      expect(attached.map((d) => d.interface)).toEqual(host.dataDisks.map((d) => d.interface));
      for (const d of attached) {
        for (const field of ['path_in_datastore', 'file_format', 'size', 'datastore_id']) {
          expect(d[field]).toMatch(new RegExp(`^\\$\\{data\\.terraform_remote_state\\.cross-stack-reference-input-${host.dataStackName}\\.outputs\\..*${field}\\}$`));
        }
        expect(d.file_id).toBeUndefined();
      }
      expect(r.stacks.find((s) => s.name === host.stackName)?.dependsOn).toEqual([host.dataStackName]);
    }
  });

  it('protects data VMs and never starts them', () => {
    const r = synth(stage);
    for (const host of site.hosts.filter((h) => h.stage === stage && h.dataStackName)) {
      const data = only(readStack(r, host.dataStackName!).resource.proxmox_virtual_environment_vm as Record<string, Json>);
      expect(data.protection).toBe(true);
      expect(data.lifecycle).toEqual({ prevent_destroy: true });
      expect(data.started).toBe(false);
      expect(data.on_boot).toBe(false);
      expect(data.tags).toEqual([stage, 'never-start']);
      expect(data.vm_id).toBe(host.dataVmid);
    }
  });

  it('uploads cloud-init snippets named by a hash of their content; the user-data from a 0600 file', async () => {
    const { createHash } = await import('node:crypto');
    const r = synth(stage);
    const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);
    for (const host of site.hosts.filter((h) => h.stage === stage)) {
      const files = readStack(r, host.stackName).resource.proxmox_virtual_environment_file as Record<string, Json>;
      expect(Object.keys(files)).toHaveLength(2);
      const network = Object.values(files).find((f) => f.source_raw)!;
      expect(network.source_raw.file_name).toBe(`${host.name}-network-data-${hashOf(network.source_raw.data)}.yaml`);
      const user = Object.values(files).find((f) => f.source_file)!;
      expect(user.source_raw).toBeUndefined();
      const { path, file_name } = user.source_file;
      const text = readFileSync(path, 'utf8');
      expect(file_name).toBe(`${host.name}-user-data-${hashOf(text)}.yaml`);
      expect(path).toBe(join(snippetDir(stage), `${host.name}-user-data-${hashOf(text)}.yaml`));
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(snippetDir(stage)).mode & 0o777).toBe(0o700);
      for (const f of Object.values(files)) expect(f.content_type).toBe('snippets');
    }
  });

  it('renders each user-data as its golden file (fixture host keys), with the host key and root\'s keys', () => {
    synth(stage);
    const mismatches: string[] = [];
    for (const host of site.hosts.filter((h) => h.stage === stage)) {
      const [file] = readdirSync(snippetDir(stage)).filter((f) => f.startsWith(`${host.name}-user-data-`));
      const text = readFileSync(join(snippetDir(stage), file!), 'utf8');
      const data = parseYaml(text) as Json;
      expect(data.ssh_keys).toEqual({ ed25519_private: fixtureHostKeys(host.name).privateKey, ed25519_public: fixtureHostKeys(host.name).publicKey });
      expect(data.ssh_authorized_keys).toEqual(ROOT_KEYS);
      expect(data.disable_root).toBe(false);
      const mismatch = compareGolden('cloud-init-proxmox', `${host.name}-user-data.yaml`, text);
      if (mismatch) mismatches.push(mismatch);
    }
    expect(mismatches).toEqual([]);
  });

  it('writes no secret into any file', () => {
    const r = synth(stage);
    for (const s of r.stacks) {
      for (const file of readdirSync(s.dir)) {
        const text = readFileSync(join(s.dir, file), 'utf8');
        expect(text).not.toContain(FAKE_TOKEN);
        expect(text).not.toMatch(/api_token|PRIVATE KEY|"password"/);
      }
    }
  });

  it('outputs the host object every platform shares', () => {
    const r = synth(stage);
    for (const host of site.hosts.filter((h) => h.stage === stage)) {
      const outputs = readStack(r, host.stackName).output as Json;
      expect(Object.keys(outputs)).toEqual(['host']);
      expect(Object.keys(outputs.host.value).sort()).toEqual(['data_disks', 'ipv4', 'mac', 'name', 'roles', 'stage', 'vmid']);
      expect(outputs.host.value.name).toBe(host.name);
    }
  });
});
