// The answers of the add-service wizard: flags first, prompts for the rest, every answer
// checked by the same validator whether it came from a flag (exit 2) or a prompt (asked again).
import { EXIT, HomeprodError } from '../ui/errors';
import { type Site, type StageName, STAGES } from '../model';
import { certificatesOf } from '../model/certificates';
import { isDnsName, isIpv4, ServiceSchema } from '../model/schema';
import type { Choice, Prompter, Validate } from '../ui/prompts';

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

export const DEFAULT_BODY_SIZE = '10m';
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
