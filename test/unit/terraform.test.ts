import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HomeprodError, EXIT } from '../../tasks/lib/ui/errors';
import { createTerraform, parseHostOutput, terraformErrorLines, type Terraform } from '../../tasks/lib/apply/terraform';
import { cliConfigText, terraformEnv } from '../../tasks/lib/apply/terraform-config';
import { actionOf, dataLossError, planLine, summarizePlan } from '../../tasks/lib/apply/plan';
import { testHost, writeTestStack } from '../helpers/terraform-stacks';

describe('terraform runner: pure parts', () => {
  it('gives terraform a clean environment with our CLI config', () => {
    const env = terraformEnv({
      cliConfigFile: '/state/terraform/cli.tfrc',
      baseEnv: { PATH: '/bin', TF_CLI_CONFIG_FILE: '/root/.terraformrc', TF_VAR_x: '1', TF_WORKSPACE: 'w', TF_LOG: 'INFO', HOMEPROD_STATE_DIR: '/s' },
      env: { PGHOST: '127.0.0.1' },
    });
    expect(env).toMatchObject({ PATH: '/bin', CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_CLI_CONFIG_FILE: '/state/terraform/cli.tfrc', TF_LOG: 'INFO', HOMEPROD_STATE_DIR: '/s', PGHOST: '127.0.0.1' });
    expect(env.TF_VAR_x).toBeUndefined();
    expect(env.TF_WORKSPACE).toBeUndefined();
  });

  it('downloads nothing unless asked', () => {
    expect(cliConfigText({ pluginDir: '/p', allowDownload: false })).toContain('filesystem_mirror {\n    path = "/p"');
    expect(cliConfigText({ pluginDir: '/p', allowDownload: false })).not.toContain('direct');
    expect(cliConfigText({ pluginDir: '/p', allowDownload: true })).toContain('direct {}');
  });

  it('counts a replacement as one add and one destroy, and flags data', () => {
    const plan = summarizePlan(
      {
        resource_changes: [
          { address: 'terraform_data.disk', mode: 'managed', type: 'terraform_data', change: { actions: ['delete', 'create'] } },
          { address: 'terraform_data.meta', mode: 'managed', type: 'terraform_data', change: { actions: ['update'] } },
          { address: 'terraform_data.old', mode: 'managed', type: 'terraform_data', change: { actions: ['delete'] } },
          { address: 'data.terraform_remote_state.x', mode: 'data', type: 'terraform_remote_state', change: { actions: ['read'] } },
        ],
        output_changes: { host: { actions: ['no-op'] } },
      },
      { stack: 'a-data-vm', planFile: '/x', destroy: false, isData: (c) => c.address !== 'terraform_data.old' },
    );
    expect([plan.add, plan.change, plan.remove, plan.empty]).toEqual([1, 1, 2, false]);
    expect(plan.dataLoss.map((d) => [d.address, d.action])).toEqual([['terraform_data.disk', 'replace']]);
    expect(planLine(plan)).toBe('1 to add, 1 to change, 2 to destroy (1 with data!)');
    const error = dataLossError([plan], 'the lab stage');
    expect(error?.exitCode).toBe(EXIT.refused);
    expect(error?.details).toEqual(['a-data-vm: terraform_data.disk would be replaced']);
    expect(actionOf(['create', 'delete'])).toBe('replace');
  });

  it('names the field of a host output that breaks the contract', () => {
    const bad = { ...testHost('app', '10.0.0.5', 5010), ipv4: 'ten' };
    expect(() => parseHostOutput(bad, 'lab-app-vm: output "host"')).toThrow(HomeprodError);
    try {
      parseHostOutput(bad, 'lab-app-vm: output "host"');
    } catch (error) {
      expect((error as HomeprodError).message).toBe('lab-app-vm: output "host" is not a valid host output');
      expect((error as HomeprodError).details).toEqual(['ipv4: is not an IPv4 address']);
    }
  });

  it('keeps terraform\'s own error block', () => {
    const text = 'noise\n╷\n│ Error: Failed to query available provider packages\n│ \n│ Could not retrieve the list\n╵\n';
    expect(terraformErrorLines(text)).toEqual(['Error: Failed to query available provider packages', 'Could not retrieve the list']);
  });
});

describe('terraform runner: real terraform on terraform_data stacks', () => {
  let root: string;
  let tf: Terraform;
  const log: string[] = [];
  const collect = (chunk: string | Buffer) => log.push(chunk.toString());

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'homeprod-tf-'));
    tf = await createTerraform(join(root, 'state'), { baseEnv: { ...process.env, TF_CLI_CONFIG_FILE: '/nonexistent/terraformrc' } });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes its CLI config 0600', () => {
    expect(statSync(tf.config.cliConfigFile).mode & 0o777).toBe(0o600);
  });

  it('inits once, plans, applies the saved plan, reads the host output, then has nothing to do', async () => {
    const journal = join(root, 'journal');
    const stack = writeTestStack(join(root, 'out'), { name: 'app-vm', kind: 'vm', dependsOn: [], resources: { vm: { name: 'app' } }, host: testHost('app', '10.0.0.5', 5010), journal });
    expect(await tf.init(stack, collect)).toEqual({ skipped: false });
    expect(await tf.init(stack, collect)).toEqual({ skipped: true });
    expect(await tf.hostOutput(stack)).toBeNull();

    const plan = await tf.plan(stack, {}, collect);
    expect([plan.add, plan.change, plan.remove, plan.empty]).toEqual([1, 0, 0, false]);
    expect(statSync(plan.planFile).mode & 0o777).toBe(0o600);
    await tf.apply(stack, plan, collect);
    expect(readFileSync(journal, 'utf8')).toBe('+app-vm.vm\n');
    expect(statSync(join(root, 'out', 'terraform.app-vm.tfstate')).mode & 0o777).toBe(0o600);
    expect(log.join('')).toContain('Apply complete! Resources: 1 added');
    expect(log.join('')).not.toContain('Unable to open CLI configuration file');

    expect(await tf.hostOutput(stack)).toEqual(testHost('app', '10.0.0.5', 5010));
    const again = await tf.plan(stack, {}, collect);
    expect(again.empty).toBe(true);
    expect(planLine(again)).toBe('no changes');

    const destroy = await tf.plan(stack, { destroy: true }, collect);
    expect([destroy.add, destroy.remove, destroy.dataLoss.length]).toEqual([0, 1, 0]);
  });

  it('flags replacing a resource of a data stack as data loss', async () => {
    const outdir = join(root, 'out');
    const spec = { name: 'app-data-vm', kind: 'data' as const, dependsOn: [], resources: { disk: { size: 1 } }, triggers: { disk: 'v1' } };
    const stack = writeTestStack(outdir, spec);
    await tf.init(stack);
    await tf.apply(stack, await tf.plan(stack));
    writeTestStack(outdir, { ...spec, triggers: { disk: 'v2' } });
    const plan = await tf.plan(stack);
    expect(plan.dataLoss).toEqual([{ stack: 'app-data-vm', address: 'terraform_data.disk', type: 'terraform_data', action: 'replace', data: true }]);
    expect(planLine(plan)).toBe('1 to add, 0 to change, 1 to destroy (1 with data!)');
    await tf.destroy(stack);
    expect((await tf.plan(stack, { destroy: true })).empty).toBe(true);
  });

  it('says clearly that a missing provider is not downloaded, naming the mirror', async () => {
    const dir = join(root, 'out', 'stacks', 'prox-vm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cdk.tf.json'), JSON.stringify({ terraform: { required_providers: { proxmox: { source: 'bpg/proxmox', version: '0.78.2' } } } }));
    const failure = await tf.init({ name: 'prox-vm', kind: 'vm', dir }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(HomeprodError);
    const error = failure as HomeprodError;
    expect(error.exitCode).toBe(EXIT.precondition);
    expect(error.message).toBe('prox-vm: a Terraform provider it needs is not installed, and homeprod lets terraform download nothing by default');
    expect(error.hint).toContain(join(process.cwd(), '.cache', 'terraform', 'providers'));
    expect(error.hint).toContain('HOMEPROD_TF_REGISTRY=direct');
  });

  it('reports a terraform error with its own message and the stack directory', async () => {
    const dir = join(root, 'out', 'stacks', 'broken-vm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cdk.tf.json'), JSON.stringify({ resource: { terraform_data: { x: { input: '${var.missing}' } } } }));
    await tf.init({ name: 'broken-vm', kind: 'vm', dir });
    const failure = (await tf.plan({ name: 'broken-vm', kind: 'vm', dir }).catch((e: unknown) => e)) as HomeprodError;
    expect(failure).toBeInstanceOf(HomeprodError);
    expect(failure.message).toBe(`terraform plan failed in ${dir}: Reference to undeclared input variable`);
  });
});
