// The one way homeprod runs Terraform (or OpenTofu): a clean environment with our own CLI
// config (nothing is ever downloaded unless the operator allows it), process output piped
// into the caller's log, and typed results (PlanSummary, HostOutput) instead of text.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { $, which } from 'zx';
import { z } from 'zod';
import { providerMirrorDir } from '../../stacks/terraform-offline';
import { EXIT, HomeprodError } from './errors';
import { tfStateDir } from './keys';
import type { HostOutput } from './model/types';
import { HostOutputSchema } from './model/host-output';

export type Log = (chunk: string | Buffer) => void;

/** A stack as the runner sees it: its synthesized directory and whether it owns data. */
export interface StackRef {
  name: string;
  dir: string;
  kind: 'vm' | 'data';
}

export interface TerraformConfig {
  /** The terraform/tofu executable (absolute path or a name on PATH). */
  binary: string;
  /** Where our CLI config and the record of applied stacks live (`<stateDir>/terraform/`). */
  stateDir: string;
  /** Our CLI config file (TF_CLI_CONFIG_FILE of every call). */
  cliConfigFile: string;
  /** Extra environment for every call, e.g. the PG* variables of the pg state backend. */
  env?: Record<string, string>;
  /** The environment the clean one is derived from (tests inject one). */
  baseEnv?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export type ChangeAction = 'create' | 'update' | 'delete' | 'replace' | 'read' | 'no-op';

export interface ResourceChange {
  stack: string;
  address: string;
  type: string;
  action: ChangeAction;
  /** The resource is (part of) a data disk or data VM: deleting it loses data. */
  data: boolean;
}

export interface PlanSummary {
  stack: string;
  /** Absolute path of the saved plan, applied as-is by `apply()`. */
  planFile: string;
  destroy: boolean;
  add: number;
  change: number;
  remove: number;
  outputsChanged: boolean;
  /** Resources to be deleted or replaced (all of them, data or not). */
  removals: ResourceChange[];
  /** The subset of `removals` that would lose data. */
  dataLoss: ResourceChange[];
  /** Nothing to do: no resource or output changes. */
  empty: boolean;
}

// ── Binary, CLI config, environment ────────────────────────────────────────────────────────

/** `HOMEPROD_TF` if set, else `terraform`, else `tofu` from PATH. */
export async function findTerraform(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const wanted = env.HOMEPROD_TF?.trim();
  const candidates = wanted ? [wanted] : ['terraform', 'tofu'];
  for (const name of candidates) {
    const found = await which(name, { nothrow: true, path: env.PATH });
    if (found) return found;
  }
  throw new HomeprodError(
    wanted ? `HOMEPROD_TF is "${wanted}", which is not an executable on PATH` : 'neither terraform nor tofu is on PATH',
    EXIT.precondition,
    'install Terraform >= 1.6 or OpenTofu (https://developer.hashicorp.com/terraform/install), or set HOMEPROD_TF to its path',
  );
}

export interface CliConfigOptions {
  /** Directory of the provider filesystem mirror; the only install source unless `allowDownload`. */
  pluginDir: string;
  /** Let terraform fetch providers from their registry (HOMEPROD_TF_REGISTRY=direct). */
  allowDownload: boolean;
}

/** The one provider mirror (`.cache/terraform/providers`, shared with the stack tests) unless HOMEPROD_TF_PLUGIN_DIR. */
export function cliConfigOptions(env: NodeJS.ProcessEnv = process.env): CliConfigOptions {
  return {
    pluginDir: resolve(env.HOMEPROD_TF_PLUGIN_DIR ?? providerMirrorDir()),
    allowDownload: env.HOMEPROD_TF_REGISTRY === 'direct',
  };
}

export function cliConfigText(options: CliConfigOptions): string {
  // Without `direct {}` terraform cannot reach any registry: the local platform needs only
  // built-in providers, and the proxmox provider must be placed in the mirror on purpose.
  const method = options.allowDownload ? '  direct {}\n' : `  filesystem_mirror {\n    path = ${JSON.stringify(options.pluginDir)}\n  }\n`;
  return `# Written by homeprod (tasks/lib/terraform.ts); every terraform call uses this file.\ndisable_checkpoint = true\n\nprovider_installation {\n${method}}\n`;
}

/** Writes our CLI config (0600, atomically) under `<stateDir>/terraform/` and returns its path. */
export function writeCliConfig(stateDir: string, options: CliConfigOptions = cliConfigOptions()): string {
  const dir = tfStateDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(options.pluginDir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'cli.tfrc');
  writeFileAtomic(file, cliConfigText(options), 0o600);
  return file;
}

// Inherited TF_* variables would change what terraform does behind our back (another CLI
// config, TF_VAR_ inputs, workspaces); only logging and the plugin cache pass through.
const PASSED_TF_VARIABLES = new Set(['TF_LOG', 'TF_LOG_PATH', 'TF_LOG_CORE', 'TF_LOG_PROVIDER', 'TF_PLUGIN_CACHE_DIR']);

export function terraformEnv(config: Pick<TerraformConfig, 'cliConfigFile' | 'env' | 'baseEnv'>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.baseEnv ?? process.env)) {
    if (value === undefined) continue;
    if ((key.startsWith('TF_') || key.startsWith('TOFU_')) && !PASSED_TF_VARIABLES.has(key)) continue;
    if (key === 'CHECKPOINT_DISABLE') continue;
    env[key] = value;
  }
  return {
    ...env,
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_CLI_CONFIG_FILE: config.cliConfigFile,
    ...config.env,
  };
}

// ── The runner ─────────────────────────────────────────────────────────────────────────────

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const PLAN_FILE = 'homeprod.tfplan';
const INIT_STAMP = join('.terraform', 'homeprod-init.json');

export class Terraform {
  constructor(readonly config: TerraformConfig) {}

  /** Runs one terraform command in a stack directory; output goes to `log` line by line. */
  async run(dir: string, args: string[], log?: Log, options: { allowedExitCodes?: number[] } = {}): Promise<RunResult> {
    const env = terraformEnv(this.config);
    const child = $({ cwd: dir, env, quiet: true, nothrow: true, signal: this.config.signal })`${this.config.binary} ${args}`;
    if (log) {
      child.stdout.on('data', log);
      child.stderr.on('data', log);
    }
    const result = await child;
    const exitCode = result.exitCode ?? 1;
    if (exitCode !== 0 && !(options.allowedExitCodes ?? []).includes(exitCode)) {
      throw terraformFailure(dir, args, result.stderr || result.stdout, exitCode, result.signal);
    }
    return { exitCode, stdout: result.stdout, stderr: result.stderr };
  }

  /** `init`, skipped when this directory was already initialised for the same backend and providers. */
  async init(stack: StackRef, log?: Log): Promise<{ skipped: boolean }> {
    const stamp = this.initStamp(stack.dir);
    const stampFile = join(stack.dir, INIT_STAMP);
    if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { skipped: true };
    try {
      await this.run(stack.dir, ['init', '-input=false', '-no-color'], log).catch((error: unknown) => {
        // The pg backend's first inits create a sequence every schema shares; two at once race
        // in PostgreSQL (duplicate key in pg_class). The loser's retry finds it made.
        if (!PG_INIT_RACE.test((error as Error).message)) throw error;
        return this.run(stack.dir, ['init', '-input=false', '-no-color'], log);
      });
    } catch (error) {
      throw missingProviderError(stack, error, this.config) ?? error;
    }
    protectState(stack.dir);
    mkdirSync(join(stack.dir, '.terraform'), { recursive: true });
    writeFileAtomic(stampFile, stamp, 0o600);
    return { skipped: false };
  }

  /** Saves a plan (`-destroy` for destroy plans) and summarizes it from `terraform show -json`. */
  async plan(stack: StackRef, options: { destroy?: boolean; replace?: string[] } = {}, log?: Log): Promise<PlanSummary> {
    const planFile = join(resolve(stack.dir), PLAN_FILE);
    const args = ['plan', '-input=false', '-no-color', '-lock-timeout=60s', `-out=${PLAN_FILE}`];
    if (options.destroy) args.push('-destroy');
    for (const address of options.replace ?? []) args.push(`-replace=${address}`);
    try {
      await this.run(stack.dir, args, log);
    } catch (error) {
      throw preventDestroyError(stack, error) ?? error;
    } finally {
      protectState(stack.dir);
    }
    const shown = await this.run(stack.dir, ['show', '-json', '-no-color', PLAN_FILE]);
    return summarizePlan(parseJson(shown.stdout, `${stack.name}: terraform show -json`), {
      stack: stack.name,
      planFile,
      destroy: Boolean(options.destroy),
      isData: (change) => isDataResource(stack, change),
    });
  }

  /** Applies exactly the saved plan: what was summarized (and gated) is what happens. */
  async apply(stack: StackRef, plan: PlanSummary, log?: Log): Promise<void> {
    try {
      await this.run(stack.dir, ['apply', '-input=false', '-no-color', '-lock-timeout=60s', plan.planFile], log);
    } finally {
      protectState(stack.dir);
    }
  }

  /** Destroys a stack without a gate; for cleanup paths that already decided. */
  async destroy(stack: StackRef, log?: Log): Promise<void> {
    try {
      await this.run(stack.dir, ['destroy', '-input=false', '-no-color', '-auto-approve', '-lock-timeout=60s'], log);
    } finally {
      protectState(stack.dir);
    }
  }

  /** The stack's outputs as plain values (`{}` before the first apply). */
  async outputs(stack: StackRef): Promise<Record<string, unknown>> {
    const result = await this.run(stack.dir, ['output', '-json', '-no-color']);
    const raw = parseJson(result.stdout, `${stack.name}: terraform output -json`) as Record<string, { value: unknown }>;
    return Object.fromEntries(Object.entries(raw).map(([name, output]) => [name, output.value]));
  }

  /** The `host` output of a VM stack, validated; null when the stack has not been applied. */
  async hostOutput(stack: StackRef): Promise<HostOutput | null> {
    const outputs = await this.outputs(stack);
    if (!('host' in outputs)) return null;
    return parseHostOutput(outputs.host, `${stack.name}: output "host"`);
  }

  private initStamp(dir: string): string {
    const file = join(dir, 'cdk.tf.json');
    const config = existsSync(file) ? (parseJson(readFileSync(file, 'utf8'), file) as { terraform?: unknown }) : {};
    const lockFile = join(dir, '.terraform.lock.hcl');
    const inputs = {
      binary: this.config.binary,
      cli: readFileSync(this.config.cliConfigFile, 'utf8'),
      terraform: config.terraform ?? null,
      lock: existsSync(lockFile) ? readFileSync(lockFile, 'utf8') : null,
    };
    return createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
  }
}

/** A ready runner: finds the binary and writes the CLI config under `stateDir`. */
export async function createTerraform(stateDir: string, options: { env?: Record<string, string>; baseEnv?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<Terraform> {
  const baseEnv = options.baseEnv ?? process.env;
  const binary = await findTerraform(baseEnv);
  const cliConfigFile = writeCliConfig(stateDir, cliConfigOptions(baseEnv));
  return new Terraform({ binary, stateDir, cliConfigFile, env: options.env, baseEnv, signal: options.signal });
}

// ── Plans ──────────────────────────────────────────────────────────────────────────────────

interface PlanJson {
  resource_changes?: Array<{ address: string; mode: string; type: string; change: { actions: string[] } }>;
  output_changes?: Record<string, { actions: string[] }>;
}

export function actionOf(actions: string[]): ChangeAction {
  const key = actions.join(',');
  if (key === 'delete,create' || key === 'create,delete') return 'replace';
  if (key === 'create' || key === 'update' || key === 'delete' || key === 'read' || key === 'no-op') return key;
  // Terraform 1.x also knows "forget" (removed blocks): nothing is destroyed.
  return 'no-op';
}

/**
 * Which resources own data. Everything managed in a data stack is the data VM / disk
 * itself; in a VM stack nothing is, since the data lives outside the bootable VM.
 */
export function isDataResource(stack: Pick<StackRef, 'kind'>, change: { mode: string; type: string }): boolean {
  return stack.kind === 'data' && change.mode === 'managed';
}

export function summarizePlan(
  json: unknown,
  meta: { stack: string; planFile: string; destroy: boolean; isData: (change: { mode: string; type: string; address: string }) => boolean },
): PlanSummary {
  const plan = json as PlanJson;
  let add = 0;
  let change = 0;
  let remove = 0;
  const removals: ResourceChange[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.mode !== 'managed') continue;
    const action = actionOf(rc.change.actions);
    if (action === 'create' || action === 'replace') add++;
    if (action === 'update') change++;
    if (action === 'delete' || action === 'replace') {
      remove++;
      removals.push({ stack: meta.stack, address: rc.address, type: rc.type, action, data: meta.isData(rc) });
    }
  }
  const outputsChanged = Object.values(plan.output_changes ?? {}).some((o) => actionOf(o.actions) !== 'no-op');
  return {
    stack: meta.stack,
    planFile: meta.planFile,
    destroy: meta.destroy,
    add,
    change,
    remove,
    outputsChanged,
    removals,
    dataLoss: removals.filter((r) => r.data),
    empty: add + change + remove === 0 && !outputsChanged,
  };
}

/** One line per stack, the way terraform says it. */
export function planLine(plan: PlanSummary): string {
  if (plan.empty) return 'no changes';
  if (plan.add + plan.change + plan.remove === 0) return 'outputs change only';
  const parts = [`${plan.add} to add`, `${plan.change} to change`, `${plan.remove} to destroy`];
  const data = plan.dataLoss.length ? ` (${plan.dataLoss.length} with data!)` : '';
  return parts.join(', ') + data;
}

/** The gate: a HomeprodError naming every data resource a set of plans would delete or replace. */
export function dataLossError(plans: PlanSummary[], what: string): HomeprodError | null {
  const losses = plans.flatMap((p) => p.dataLoss);
  if (losses.length === 0) return null;
  return new HomeprodError(
    `refusing to apply ${what}: the plan would ${losses.some((l) => l.action === 'replace') ? 'destroy or replace' : 'destroy'} data (nothing was applied)`,
    EXIT.refused,
    'pass --allow-data-loss if losing the data on these disks is intended',
    losses.map((l) => `${l.stack}: ${l.address} would be ${l.action === 'replace' ? 'replaced' : 'destroyed'}`),
  );
}

// ── Outputs ────────────────────────────────────────────────────────────────────────────────


export function parseHostOutput(value: unknown, where: string): HostOutput {
  const parsed = HostOutputSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HomeprodError(
    `${where} is not a valid host output`,
    EXIT.failed,
    'the stack does not follow the output contract in tasks/lib/model/types.ts (HostOutput)',
    parsed.error.issues.map((issue) => `${issue.path.join('.') || '(value)'}: ${issue.message}`),
  );
}

// ── Helpers ────────────────────────────────────────────────────────────────────────────────

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HomeprodError(`${where}: not JSON (${(error as Error).message})`);
  }
}

/** The lines of terraform's own error block(s), for a one-screen message. */
export function terraformErrorLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/^[│╷╵]\s?/, '').trimEnd());
  const start = lines.findIndex((l) => l.startsWith('Error:'));
  const relevant = (start >= 0 ? lines.slice(start) : lines.slice(-10)).filter((l) => l.trim() !== '');
  return relevant.slice(0, 12);
}

function terraformFailure(dir: string, args: string[], text: string, exitCode: number, signal: NodeJS.Signals | null): HomeprodError {
  if (signal) return new HomeprodError(`terraform ${args[0]} in ${dir} was stopped by ${signal}`, EXIT.interrupted);
  const lines = terraformErrorLines(text);
  const headline = lines[0]?.replace(/^Error:\s*/, '') ?? `exit code ${exitCode}`;
  return new HomeprodError(`terraform ${args[0]} failed in ${dir}: ${headline}`, EXIT.failed, undefined, lines.slice(1));
}

const PG_INIT_RACE = /duplicate key value violates unique constraint "pg_class_relname_nsp_index"/;
const MISSING_PROVIDER = /Failed to query available provider packages|Failed to install provider|not found in any of the search\s+locations|Could not retrieve the list of available versions/;

function missingProviderError(stack: StackRef, error: unknown, config: TerraformConfig): HomeprodError | null {
  if (!(error instanceof HomeprodError) || !MISSING_PROVIDER.test([error.message, ...error.details].join('\n'))) return null;
  const cli = existsSync(config.cliConfigFile) ? readFileSync(config.cliConfigFile, 'utf8') : '';
  const mirror = /path = "([^"]+)"/.exec(cli)?.[1];
  return new HomeprodError(
    `${stack.name}: a Terraform provider it needs is not installed, and homeprod lets terraform download nothing by default`,
    EXIT.precondition,
    mirror
      ? `put the provider into the mirror ${mirror} (layout <host>/<namespace>/<type>/<version>/<os_arch>/, e.g. \`terraform providers mirror ${mirror}\` on a machine with registry access), set HOMEPROD_TF_PLUGIN_DIR to an existing mirror, or set HOMEPROD_TF_REGISTRY=direct when a registry is reachable`
      : 'check that the provider registry is reachable, or unset HOMEPROD_TF_REGISTRY to use a provider mirror',
    error.details,
  );
}

// Data stacks carry lifecycle.prevent_destroy (unless synthesized with allowDataDestroy):
// terraform then refuses to plan at all. That is the same gate as ours, so say it the same way.
function preventDestroyError(stack: StackRef, error: unknown): HomeprodError | null {
  if (!(error instanceof HomeprodError) || !/Instance cannot be destroyed/.test(error.message)) return null;
  const text = error.details.join('\n');
  const addresses = [...text.matchAll(/Resource (\S+) has lifecycle\.prevent_destroy/g)].map((m) => m[1]!);
  return new HomeprodError(
    `refusing to plan ${stack.name}: the plan would destroy or replace data that is protected by prevent_destroy (nothing was applied)`,
    EXIT.refused,
    'pass --allow-data-loss if losing the data on these disks is intended',
    (addresses.length ? addresses : ['(see terraform\'s message above)']).map((a) => `${stack.name}: ${a} would be destroyed`),
  );
}

/** State and plan files hold the whole state: 0600, whatever terraform's umask gave them. */
export function protectState(dir: string): void {
  const candidates = [join(dir, PLAN_FILE), join(dir, '.terraform', 'terraform.tfstate')];
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (/\.tfstate(\.backup)?$|\.tfstate\.\d+\.backup$/.test(f)) candidates.push(join(dir, f));
  const localPath = localBackendPath(dir);
  if (localPath) candidates.push(localPath, `${localPath}.backup`);
  for (const file of candidates) if (existsSync(file)) chmodSync(file, 0o600);
}

function localBackendPath(dir: string): string | null {
  const file = join(dir, 'cdk.tf.json');
  if (!existsSync(file)) return null;
  try {
    const config = JSON.parse(readFileSync(file, 'utf8')) as { terraform?: { backend?: { local?: { path?: string } } } };
    const path = config.terraform?.backend?.local?.path;
    if (!path) return join(dir, 'terraform.tfstate');
    return isAbsolute(path) ? path : join(dir, path);
  } catch {
    return null;
  }
}

function writeFileAtomic(file: string, content: string, mode: number): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode });
  chmodSync(temp, mode);
  renameSync(temp, file);
}
