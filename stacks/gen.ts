// `npm run gen` (also postinstall): generates the typed bpg/proxmox bindings in .gen/ from the
// committed schema, offline. The output is a pure function of the schema and the generator
// version, so a stamp of both lets repeated installs skip the work; the tree is written to a
// temporary directory and renamed into place so an interrupted run never leaves half a binding.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { TerraformProviderGenerator } from '@cdktn/provider-generator';
import { PROXMOX_BINDINGS_DIR, PROXMOX_PROVIDER, PROXMOX_SCHEMA_FILE } from './provider-pin';
import { useOfflineTerraform } from './terraform-offline';

const STAMP = '.schema-stamp';

type GenerateTarget = Parameters<TerraformProviderGenerator['generate']>[0];

export async function generateProxmoxBindings(root: string, force = false): Promise<'generated' | 'up-to-date'> {
  const schemaText = readFileSync(join(root, PROXMOX_SCHEMA_FILE), 'utf8');
  const generatorVersion = (createRequire(import.meta.url)('@cdktn/provider-generator/package.json') as { version: string }).version;
  const stamp = createHash('sha256').update(schemaText).update(`\0${generatorVersion}`).digest('hex');
  const outDir = join(root, PROXMOX_BINDINGS_DIR);
  const stampFile = join(outDir, STAMP);
  if (!force && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) return 'up-to-date';

  const schema = JSON.parse(schemaText) as { provider_schemas: Record<string, unknown> };
  if (!schema.provider_schemas[PROXMOX_PROVIDER.fqpn]) {
    throw new Error(`${PROXMOX_SCHEMA_FILE}: provider_schemas has no "${PROXMOX_PROVIDER.fqpn}"`);
  }
  // @cdktn/commons runs `terraform version` when first imported: give it our offline env first.
  useOfflineTerraform(root);
  const { CodeMaker, TerraformProviderGenerator: Generator } = await import('@cdktn/provider-generator');
  const code = new CodeMaker();
  const generator = new Generator(code, {
    ...(schema as object),
    provider_versions: { [PROXMOX_PROVIDER.fqpn]: PROXMOX_PROVIDER.version },
  } as ConstructorParameters<typeof TerraformProviderGenerator>[1]);
  // The generator wants a ConstructsMakerProviderTarget, which its package does not export;
  // these are the fields it reads.
  const target = {
    isModule: false,
    isProvider: true,
    name: 'proxmox',
    fqn: PROXMOX_PROVIDER.source,
    source: PROXMOX_PROVIDER.source,
    namespace: 'bpg',
    version: PROXMOX_PROVIDER.version,
  } as unknown as GenerateTarget;
  generator.generate(target);

  // CodeMaker writes `providers/proxmox/...` under the directory it is given.
  const genRoot = dirname(dirname(outDir));
  const tmp = join(genRoot, `.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await generator.save(tmp);
  writeFileSync(join(tmp, 'providers', 'proxmox', STAMP), `${stamp}\n`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(dirname(outDir), { recursive: true });
  renameSync(join(tmp, 'providers', 'proxmox'), outDir);
  rmSync(tmp, { recursive: true, force: true });
  return 'generated';
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = resolve(import.meta.dirname, '..');
  const result = await generateProxmoxBindings(root, process.argv.includes('--force'));
  console.log(`${PROXMOX_BINDINGS_DIR}: ${result} (bpg/proxmox ${PROXMOX_PROVIDER.version})`);
}
