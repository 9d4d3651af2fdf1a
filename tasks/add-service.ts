// Adds a service to the site file: asks what the flags did not say, shows the diff, writes it.
import { addService } from './lib/add-service';
import { command, siteFile, siteFlag, yesFlag } from './lib/ui/cli';
import { EXIT, HomeprodError } from './lib/ui/errors';
import { canPrompt, terminalPrompter } from './lib/ui/prompts';

const spec = {
  usage: 'npx tsx tasks/add-service.ts [--site FILE] [--name N] [--stage lab|prod] [--hostname H] [--upstream HOST_OR_ADDRESS] [--port P] [--websocket|--no-websocket] [--max-body-size SIZE] [--certificate NAME] [--yes] [--up|--no-up]',
  summary:
    'Add a service behind a stage proxy. Asks for every answer a flag did not give (without a terminal it asks nothing and names the flags to pass), validates the whole site, shows the diff of the site file and writes it atomically, keeping comments and order. Then offers to run `up --stage lab`.',
  flags: {
    ...siteFlag,
    name: { type: 'string', help: 'service name (lowercase letters, digits, dashes)' },
    stage: { type: 'string', help: 'lab or prod' },
    hostname: { type: 'string', help: 'DNS name it answers to (default <name>.lab.<domain> for lab, <name>.<domain> for prod)' },
    upstream: { type: 'string', help: 'a host of the stage, or an IPv4 address' },
    port: { type: 'string', help: 'upstream port' },
    websocket: { type: 'boolean', help: 'pass websocket upgrades through' },
    'no-websocket': { type: 'boolean', help: 'do not (the default without a terminal)' },
    'max-body-size': { type: 'string', help: 'largest request body, nginx size (default 10m)' },
    certificate: { type: 'string', help: 'share this certificate with the services of the stage that name it (default: a certificate of its own; asked only when the stage already shares one)' },
    ...yesFlag('write without asking (required without a terminal)'),
    up: { type: 'boolean', help: 'then run `up --stage lab --yes`' },
    'no-up': { type: 'boolean', help: 'then only print the `up` command (the default without a terminal)' },
  },
} as const;

/** A flag and its --no- twin: true, false, or not given. */
function either(flag: string, yes: boolean | undefined, no: boolean | undefined): boolean | undefined {
  if (yes && no) throw new HomeprodError(`--${flag} and --no-${flag} contradict each other`, EXIT.usage);
  return yes ? true : no ? false : undefined;
}

await command(spec, async (values, out) =>
  addService({
    siteFile: siteFile(values),
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
  }),
);
