// Adds a service to the site file: asks what the flags did not say, shows the diff, writes it.
import { addService } from './lib/add-service';
import { helpText, parseFlags, runMain } from './lib/cli';
import { EXIT, HomeprodError } from './lib/errors';
import { DEFAULT_SITE_FILE } from './lib/model';
import { canPrompt, terminalPrompter } from './lib/prompts';

const spec = {
  usage: 'npx tsx tasks/add-service.ts [--site FILE] [--name N] [--stage lab|prod] [--hostname H] [--upstream HOST_OR_ADDRESS] [--port P] [--websocket|--no-websocket] [--max-body-size SIZE] [--certificate NAME] [--yes] [--up|--no-up]',
  summary:
    'Add a service behind a stage proxy. Asks for every answer a flag did not give (without a terminal it asks nothing and names the flags to pass), validates the whole site, shows the diff of the site file and writes it atomically, keeping comments and order. Then offers to run `up --stage lab`.',
  options: {
    site: { type: 'string' },
    name: { type: 'string' },
    stage: { type: 'string' },
    hostname: { type: 'string' },
    upstream: { type: 'string' },
    port: { type: 'string' },
    websocket: { type: 'boolean' },
    'no-websocket': { type: 'boolean' },
    'max-body-size': { type: 'string' },
    certificate: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    up: { type: 'boolean' },
    'no-up': { type: 'boolean' },
  },
  optionHelp: {
    site: `site file (default ${DEFAULT_SITE_FILE})`,
    name: 'service name (lowercase letters, digits, dashes)',
    stage: 'lab or prod',
    hostname: 'DNS name it answers to (default <name>.lab.<domain> for lab, <name>.<domain> for prod)',
    upstream: 'a host of the stage, or an IPv4 address',
    port: 'upstream port',
    websocket: 'pass websocket upgrades through',
    'no-websocket': 'do not (the default without a terminal)',
    'max-body-size': 'largest request body, nginx size (default 10m)',
    certificate: 'share this certificate with the services of the stage that name it (default: a certificate of its own; asked only when the stage already shares one)',
    yes: 'write without asking (required without a terminal)',
    up: 'then run `up --stage lab --yes`',
    'no-up': 'then only print the `up` command (the default without a terminal)',
  },
} as const;

/** A flag and its --no- twin: true, false, or not given. */
function either(flag: string, yes: boolean | undefined, no: boolean | undefined): boolean | undefined {
  if (yes && no) throw new HomeprodError(`--${flag} and --no-${flag} contradict each other`, EXIT.usage);
  return yes ? true : no ? false : undefined;
}

await runMain(async (out) => {
  const { values } = parseFlags(spec);
  if (values.help) return out.line(helpText(spec));
  return addService({
    siteFile: values.site ?? DEFAULT_SITE_FILE,
    flags: {
      name: values.name,
      stage: values.stage,
      hostname: values.hostname,
      upstream: values.upstream,
      port: values.port,
      websocket: either('websocket', values.websocket, values['no-websocket']),
      maxBodySize: values['max-body-size'],
      certificate: values.certificate,
    },
    yes: Boolean(values.yes),
    up: either('up', values.up, values['no-up']),
    interactive: canPrompt(),
    prompts: terminalPrompter,
    out,
  });
});
