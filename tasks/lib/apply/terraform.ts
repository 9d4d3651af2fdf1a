// The one way homeprod runs Terraform (or OpenTofu): a clean environment with our own CLI
// config (nothing is ever downloaded unless the operator allows it), process output piped
// into the caller's log, and typed results (PlanSummary, HostOutput) instead of text.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { $ } from 'zx';
import { HostOutputSchema } from '../model/host-output';
import type { HostOutput } from '../model/types';
import { writeFileAtomic } from '../shared/files';
import { EXIT, HomeprodError } from '../ui/errors';
import { isDataResource, type PlanSummary, summarizePlan } from './plan';
import { cliConfigOptions, findTerraform, terraformEnv, writeCliConfig } from './terraform-config';

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

