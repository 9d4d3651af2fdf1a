// Prints the site's Mermaid diagram, or keeps the README's copy of it current.
import { helpText, parseFlags, runMain } from './lib/cli';
import { checkDiagram, siteDiagram, writeDiagram } from './lib/diagram';
import { EXIT, HomeprodError } from './lib/errors';
import { DEFAULT_SITE_FILE, loadSite } from './lib/model';

const spec = {
  usage: 'npx tsx tasks/diagram.ts [--site FILE] [--check README.md | --write README.md]',
  summary: 'A Mermaid flowchart of the site, from the model: internet → NAT → passthrough → stage proxies → services → upstreams, per stage its control node and certificate host. Prints it, or checks / rewrites the block between <!-- diagram:start --> and <!-- diagram:end --> in a Markdown file.',
  options: { site: { type: 'string' }, check: { type: 'string' }, write: { type: 'string' } },
  optionHelp: {
    site: `site file (default ${DEFAULT_SITE_FILE})`,
    check: 'exit 1 if the diagram block in this file differs from the site',
    write: 'replace the diagram block in this file',
  },
} as const;

await runMain(async (out) => {
  const { values } = parseFlags(spec);
  if (values.help) return out.line(helpText(spec));
  if (values.check && values.write) throw new HomeprodError('--check and --write exclude each other', EXIT.usage);
  const diagram = siteDiagram(loadSite(values.site ?? DEFAULT_SITE_FILE));
  if (values.check) {
    checkDiagram(values.check, diagram);
    return out.line(`${values.check}: the diagram matches the site`);
  }
  if (values.write) return out.line(`${values.write}: ${writeDiagram(values.write, diagram) ? 'diagram updated' : 'diagram already current'}`);
  process.stdout.write(diagram);
});
