// The add-service wizard: gather a service (flags first, prompts for the rest), add it to the
// site file's `services` without disturbing anything else, prove the WHOLE site still validates,
// show the diff, and only then replace the file atomically.
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, isSeq, parse, parseDocument, type YAMLSeq } from 'yaml';
import { $ } from 'zx';
import { EXIT, HomeprodError } from './errors';
import { loadSite, validateSite, type Site, type StageName, STAGES } from './model';
import { certificatesOf } from './model/certificates';
import { isDnsName, isIpv4, ServiceSchema } from './model/schema';
import type { Output } from './output';
import type { Choice, Prompter, Validate } from './prompts';

/** What the flags gave; every field may be missing. */
export interface ServiceFlags {
  name?: string;
  stage?: string;
  hostname?: string;
  upstream?: string;
  port?: string;
  websocket?: boolean;
  maxBodySize?: string;
  certificate?: string;
}

export interface ServiceAnswers {
  name: string;
  stage: StageName;
  hostname: string;
  /** Either a host of the site or an IPv4 address. */
  upstream: { host: string } | { address: string };
  port: number;
  websocket: boolean;
  maxBodySize: string;
  /** A certificate to share; undefined: one of its own. */
  certificate?: string;
}

const DEFAULT_BODY_SIZE = '10m';
/** Flags a run without a terminal must pass; the others have defaults. */
const REQUIRED: Array<keyof ServiceFlags> = ['name', 'stage', 'upstream', 'port'];
const FLAG: Record<keyof ServiceFlags, string> = {
  name: '--name',
  stage: '--stage',
  hostname: '--hostname',
  upstream: '--upstream',
  port: '--port',
  websocket: '--websocket',
  maxBodySize: '--max-body-size',
  certificate: '--certificate',
};

// ---- validators: each is both the prompt's `validate` (re-ask) and the flag check (exit 2) ----

function schemaCheck(field: 'name' | 'maxBodySize'): Validate {
  return (value) => {
    const result = ServiceSchema.shape[field].safeParse(value);
    return result.success ? true : (result.error.issues[0]?.message ?? 'invalid');
  };
}

export function validateName(site: Site): Validate {
  const nameOk = schemaCheck('name');
  return (value) => {
    const ok = nameOk(value);
    if (ok !== true) return ok;
    return site.services.some((s) => s.name === value) ? `a service named "${value}" already exists` : true;
  };
}

export function validateHostname(site: Site, stage: StageName): Validate {
  return (value) => {
    if (!isDnsName(value)) return `"${value}" is not a valid DNS name`;
    const under = (zone: string) => value.endsWith(`.${zone}`);
    if (stage === 'lab' && !under(site.labDomain)) return `a lab hostname must be under ${site.labDomain}, e.g. name.${site.labDomain}`;
    if (stage === 'prod' && !under(site.domain)) return `a prod hostname must be under ${site.domain}, e.g. name.${site.domain}`;
    if (stage === 'prod' && (under(site.labDomain) || value === site.labDomain)) return `${site.labDomain} belongs to the lab; a prod hostname must be outside it`;
    const owner = site.services.find((s) => s.hostnames.includes(value));
    return owner ? `"${value}" is already served by ${owner.name} (${owner.stage})` : true;
  };
}

/** Hosts a service of the stage may send to: same stage, static address. Applications first. */
export function upstreamHosts(site: Site, stage: StageName): Site['hosts'] {
  const hosts = site.hosts.filter((h) => h.stage === stage && h.ipv4 !== null);
  const app = (h: Site['hosts'][number]) => (h.roles.includes('application') ? 0 : 1);
  return [...hosts].sort((a, b) => app(a) - app(b));
}

export function validateUpstream(site: Site, stage: StageName): Validate {
  return (value) => {
    if (isIpv4(value)) return true;
    if (upstreamHosts(site, stage).some((h) => h.name === value)) return true;
    const other = site.hosts.find((h) => h.name === value);
    if (other) return other.stage !== stage ? `host "${value}" is in stage ${other.stage}, the service in ${stage}` : `host "${value}" takes DHCP; an upstream needs a static address`;
    return `"${value}" is neither a ${stage} host of the site (${upstreamHosts(site, stage).map((h) => h.name).join(', ')}) nor an IPv4 address`;
  };
}

export const validateIpv4: Validate = (value) => (isIpv4(value) ? true : `"${value}" is not an IPv4 address like 10.111.2.50`);
export const validatePort: Validate = (value) => (/^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535 ? true : `"${value}" is not a port (1-65535)`);
export const validateBodySize: Validate = schemaCheck('maxBodySize');
const validateCertificate: Validate = (value) => {
  const result = ServiceSchema.shape.certificate.unwrap().safeParse(value);
  return result.success ? true : (result.error.issues[0]?.message ?? 'invalid');
};
const validateStage: Validate = (value) => ((STAGES as readonly string[]).includes(value) ? true : `"${value}" is not one of ${STAGES.join(', ')}`);

export function suggestHostname(site: Site, name: string, stage: StageName): string {
  return `${name}.${stage === 'lab' ? site.labDomain : site.domain}`;
}

// ---- gathering answers ----

export interface GatherOptions {
  interactive: boolean;
  prompts: Prompter;
}

/** A flag's value, checked; a bad one is a usage error naming the flag. */
function checkedFlag(flag: keyof ServiceFlags, value: string, validate: Validate): string {
  const verdict = validate(value);
  if (verdict !== true) throw new HomeprodError(`${FLAG[flag]}: ${verdict}`, EXIT.usage);
  return value;
}

const ADDRESS = Symbol('an address');
const OWN = Symbol('a certificate of its own');

/** Flags first; prompts ask for the rest, or, without a terminal, the run stops naming the flags to pass. */
export async function gatherAnswers(site: Site, flags: ServiceFlags, { interactive, prompts }: GatherOptions): Promise<ServiceAnswers> {
  if (!interactive) {
    const missing = REQUIRED.filter((f) => flags[f] === undefined);
    if (missing.length > 0)
      throw new HomeprodError(`no terminal to ask on: pass ${missing.map((f) => FLAG[f]).join(', ')}`, EXIT.refused, 'every answer has a flag; see --help');
  }
  const ask = async (flag: keyof ServiceFlags, validate: Validate, question: () => Promise<string>): Promise<string> => {
    const value = flags[flag];
    return typeof value === 'string' ? checkedFlag(flag, value, validate) : question();
  };

  const name = await ask('name', validateName(site), () => prompts.input({ message: 'Service name', validate: validateName(site) }));
  const stage = (await ask('stage', validateStage, () =>
    prompts.select<StageName>({
      message: 'Stage',
      choices: [
        { name: `lab   (${site.labDomain}, served by the lab proxy)`, value: 'lab' },
        { name: `prod  (${site.domain}, served by the prod proxy)`, value: 'prod' },
      ],
      default: 'lab',
    }),
  )) as StageName;
  const suggestion = suggestHostname(site, name, stage);
  const hostname =
    flags.hostname !== undefined || !interactive
      ? checkedFlag('hostname', flags.hostname ?? suggestion, validateHostname(site, stage))
      : await prompts.input({ message: 'Hostname', default: suggestion, validate: validateHostname(site, stage) });

  let upstreamValue = flags.upstream === undefined ? undefined : checkedFlag('upstream', flags.upstream, validateUpstream(site, stage));
  if (upstreamValue === undefined) {
    const choices: Array<Choice<string | typeof ADDRESS>> = upstreamHosts(site, stage).map((h) => ({ name: `${h.name}  ${h.ipv4}  (${h.roles.join(', ') || 'no roles'})`, value: h.name }));
    choices.push({ name: 'an address…', value: ADDRESS });
    const picked = await prompts.select<string | typeof ADDRESS>({ message: 'Upstream', choices });
    upstreamValue = picked === ADDRESS ? await prompts.input({ message: 'Upstream IPv4 address', validate: validateIpv4 }) : picked;
  }
  const upstream = isIpv4(upstreamValue) ? { address: upstreamValue } : { host: upstreamValue };
  const port = Number(await ask('port', validatePort, () => prompts.input({ message: 'Upstream port', validate: validatePort })));

  const websocket = flags.websocket ?? (interactive ? await prompts.confirm({ message: 'Pass websocket upgrades through?', default: false }) : false);
  const maxBodySize =
    flags.maxBodySize !== undefined || !interactive
      ? checkedFlag('maxBodySize', flags.maxBodySize ?? DEFAULT_BODY_SIZE, validateBodySize)
      : await prompts.input({ message: 'Largest request body (nginx size)', default: DEFAULT_BODY_SIZE, validate: validateBodySize });

  // Only a stage that already shares certificates is asked; otherwise a certificate of its own.
  const shared = sharedCertificates(site, stage);
  const certificate =
    flags.certificate !== undefined || !interactive || shared.length === 0
      ? flags.certificate === undefined
        ? undefined
        : checkedFlag('certificate', flags.certificate, validateCertificate)
      : await prompts.select<string | typeof OWN>({
          message: 'Certificate',
          choices: [{ name: 'its own', value: OWN }, ...shared.map((c) => ({ name: `${c.name}  (shared with ${c.services.map((x) => x.name).join(', ')})`, value: c.name }))],
          default: OWN,
        });

  return { name, stage, hostname, upstream, port, websocket, maxBodySize, ...(certificate === undefined || certificate === OWN ? {} : { certificate }) };
}

/** The stage's certificates that services name on purpose: held by several, or not named by a hostname. */
function sharedCertificates(site: Site, stage: StageName) {
  return certificatesOf(site.services, stage).filter((c) => c.services.length > 1 || c.name !== c.services[0]?.hostnames[0]);
}

// ---- the edit ----

/** The `services` entry, written the way the shipped site writes them: defaults left out. */
export function serviceEntry(a: ServiceAnswers): Record<string, unknown> {
  return {
    name: a.name,
    stage: a.stage,
    hostnames: [a.hostname],
    upstream: { ...a.upstream, port: a.port },
    ...(a.websocket ? { websocket: true } : {}),
    ...(a.maxBodySize !== DEFAULT_BODY_SIZE ? { maxBodySize: a.maxBodySize } : {}),
    ...(a.certificate === undefined ? {} : { certificate: a.certificate }),
  };
}

/**
 * The site text with `entry` appended to `services`. The edit is made on the YAML Document; the
 * text is then produced by splicing only the new item in, because re-printing the whole Document
 * would re-flow every aligned comment. The splice is checked against the Document edit.
 */
export function insertService(text: string, entry: Record<string, unknown>): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new HomeprodError(`the site file is not valid YAML: ${doc.errors[0]!.message}`);
  if (!isMap(doc.contents)) throw new HomeprodError('the site file is not a YAML mapping');
  const item = doc.createNode(entry);
  for (const key of ['hostnames', 'upstream']) {
    const node = item.get(key, true) as { flow?: boolean } | undefined;
    if (node) node.flow = true;
  }
  const existing = doc.get('services', true);
  let spliced: string | undefined;
  if (isSeq(existing) && !existing.flow && existing.items.length > 0) spliced = spliceAfterLast(text, existing, item);
  else if (existing === undefined || existing === null) spliced = `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}services:\n${indentItem(item, '  ')}`;
  if (isSeq(existing)) {
    existing.flow = false; // a list of services reads as a block list
    existing.add(item);
  }
  else if (existing === undefined || existing === null) doc.set('services', doc.createNode([entry]));
  else throw new HomeprodError('`services` in the site file is not a list');
  const expected = doc.toJS();
  // Unusual layouts (a flow list, `services: []`) fall back to the Document's own printing.
  if (spliced !== undefined && isDeepStrictEqual(parse(spliced), expected)) return spliced;
  return doc.toString({ flowCollectionPadding: false });
}

/** The shipped site writes `hostnames: [a]` but `upstream: { host: h, port: 1 }`. */
const SHIPPED_PADDING: Record<string, boolean> = { hostnames: false, upstream: true };

/**
 * The item as lines under `indent`. yaml pads all flow collections alike, so each top-level key
 * takes its line from the printing whose padding matches the style the file already uses.
 */
function indentItem(item: unknown, indent: string, padding: Record<string, boolean> = SHIPPED_PADDING): string {
  const print = (pad: boolean) => new Document([item]).toString({ flowCollectionPadding: pad, lineWidth: 0 }).replace(/\n$/, '').split('\n');
  const [tight, padded] = [print(false), print(true)];
  return tight
    .map((line, i) => {
      const key = /^[- ] (\w+): /.exec(line)?.[1];
      return `${indent}${key !== undefined && padding[key] ? padded[i] : line}\n`;
    })
    .join('');
}

/** Whether the file writes a key's flow collection padded, judged by an existing item. */
function paddingOf(itemText: string): Record<string, boolean> {
  const style = { ...SHIPPED_PADDING };
  for (const key of Object.keys(style)) {
    const seen = new RegExp(`^\\s*(?:- )?${key}: [[{]( ?)`, 'm').exec(itemText);
    if (seen) style[key] = seen[1] === ' ';
  }
  return style;
}

function spliceAfterLast(text: string, seq: YAMLSeq, item: unknown): string | undefined {
  const first = seq.items[0] as { range?: [number, number, number] };
  const last = seq.items[seq.items.length - 1] as { range?: [number, number, number] };
  if (!first.range || !last.range) return undefined;
  const lineStart = text.lastIndexOf('\n', first.range[0] - 1) + 1;
  const marker = /^(\s*)- /.exec(text.slice(lineStart, first.range[0]));
  if (!marker) return undefined;
  let at = last.range[1];
  if (text[at - 1] !== '\n') {
    const eol = text.indexOf('\n', at);
    at = eol === -1 ? text.length : eol + 1;
  }
  const before = text.slice(0, at);
  const style = paddingOf(text.slice(lineStart, at));
  return `${before}${before.endsWith('\n') ? '' : '\n'}${indentItem(item, marker[1]!, style)}${text.slice(at)}`;
}

// ---- the flow ----

export interface AddServiceOptions {
  siteFile: string;
  flags: ServiceFlags;
  /** Skip the write confirmation. */
  yes: boolean;
  /** true: run `up --stage lab` after writing; false: print it; undefined: ask (when interactive). */
  up?: boolean;
  interactive: boolean;
  prompts: Prompter;
  out: Output;
  /** Runs `up` for the lab (inherited stdio) and returns its exit code. */
  runUp?: (args: string[]) => Promise<number>;
}

/** The whole wizard; returns the exit code. Nothing is written unless the full site validates and the user agrees. */
export async function addService(opts: AddServiceOptions): Promise<number> {
  const site = loadSite(opts.siteFile);
  const answers = await gatherAnswers(site, opts.flags, opts);
  if (!(await writeService(answers, opts))) return EXIT.ok;
  return offerUp(opts, answers.stage);
}

/**
 * Adds the service to the site file: validate the whole resulting site, show the diff, confirm,
 * rename into place. Returns whether it wrote; throws (writing nothing) when the site would be invalid.
 */
export async function writeService(answers: ServiceAnswers, opts: Pick<AddServiceOptions, 'siteFile' | 'yes' | 'interactive' | 'prompts' | 'out'>): Promise<boolean> {
  const { siteFile, out } = opts;
  const before = readFileSync(siteFile, 'utf8');
  const after = insertService(before, serviceEntry(answers));

  // The candidate sits beside the site file so relative imports resolve, and becomes it by rename.
  const candidate = join(dirname(siteFile), `.${basename(siteFile)}.add-service-${process.pid}.tmp`);
  let written = false;
  try {
    const mode = statSync(siteFile).mode & 0o777;
    writeFileSync(candidate, after, { mode });
    chmodSync(candidate, mode);
    const { errors } = validateSite(candidate);
    if (errors.length > 0) {
      const shown = relative(process.cwd(), siteFile) || siteFile;
      const details = errors.map((e) => e.replace(relative(process.cwd(), candidate), shown).replace(candidate, shown));
      throw new HomeprodError(`the site would not be valid with service "${answers.name}"; nothing was written:`, EXIT.failed, undefined, details);
    }
    for (const line of await unifiedDiff(siteFile, candidate)) out.line(colorDiffLine(line, out.color));
    out.line();
    if (!opts.yes) {
      if (!opts.interactive) throw new HomeprodError(`not written: pass --yes to write ${siteFile} without a terminal`, EXIT.refused);
      if (!(await opts.prompts.confirm({ message: `Write this change to ${siteFile}?`, default: true }))) {
        out.line('Nothing written.');
        return false;
      }
    }
    renameSync(candidate, siteFile);
    written = true;
  } finally {
    if (!written && existsSync(candidate)) rmSync(candidate);
  }
  out.line(`Added service ${answers.name} (${answers.hostname}, ${answers.stage}) to ${siteFile}.`);
  return true;
}

/** Every change goes through lab first; a prod service then reaches prod by promotion. */
async function offerUp(opts: AddServiceOptions, stage: StageName): Promise<number> {
  const { out } = opts;
  const siteArgs = opts.siteFile === 'inventory/site.yaml' ? [] : ['--site', opts.siteFile];
  const upArgs = ['--stage', 'lab', ...siteArgs];
  const command = `npx tsx tasks/up.ts ${upArgs.join(' ')}`;
  const promote = stage === 'prod' ? `; once lab verifies, promote with: npx tsx tasks/up.ts ${['--stage', 'prod', ...siteArgs].join(' ')}` : '';
  const run = opts.up ?? (opts.interactive ? await opts.prompts.confirm({ message: `Run ${command} now?`, default: false }) : false);
  if (!run) {
    out.line(`Next: ${command}${promote}`);
    return EXIT.ok;
  }
  const code = await (opts.runUp ?? runUp)([...upArgs, '--yes']);
  if (code === EXIT.ok && promote) out.line(promote.slice(2));
  return code;
}

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `up` in its own process, on this terminal: its listr2 tree needs the real stdout. */
async function runUp(args: string[]): Promise<number> {
  const result = await $({ cwd: projectRoot, stdio: 'inherit', nothrow: true })`npx tsx tasks/up.ts ${args}`;
  return result.exitCode ?? EXIT.failed;
}

/** `diff -u` of the site file against the candidate, labelled with the site file's name. */
export async function unifiedDiff(from: string, to: string): Promise<string[]> {
  const rel = relative(process.cwd(), from);
  const [a, b] = rel && !rel.startsWith('..') ? [`a/${rel}`, `b/${rel}`] : [from, from];
  const result = await $({ nothrow: true, quiet: true })`diff -u --label ${a} --label ${b} ${from} ${to}`;
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new HomeprodError(`diff failed: ${result.stderr.trim()}`, EXIT.precondition);
  return result.stdout.replace(/\n$/, '').split('\n');
}

function colorDiffLine(line: string, color: boolean): string {
  if (!color) return line;
  if (line.startsWith('+') && !line.startsWith('+++')) return `\x1b[32m${line}\x1b[0m`;
  if (line.startsWith('-') && !line.startsWith('---')) return `\x1b[31m${line}\x1b[0m`;
  if (line.startsWith('@@')) return `\x1b[36m${line}\x1b[0m`;
  return line;
}
