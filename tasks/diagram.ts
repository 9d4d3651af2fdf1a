// Prints the site's Mermaid diagram, or keeps the README's copy of it current.
import { checkDiagram, siteDiagram, writeDiagram } from './lib/check/diagram';
import { loadSite } from './lib/model';
import { command, siteFile, siteFlag } from './lib/ui/cli';
import { EXIT, HomeprodError } from './lib/ui/errors';

const spec = {
  usage: 'npx tsx tasks/diagram.ts [--site FILE] [--check README.md | --write README.md]',
  summary: 'A Mermaid flowchart of the site, from the model: internet → NAT → passthrough → stage proxies → services → upstreams, per stage its control node and certificate host. Prints it, or checks / rewrites the block between <!-- diagram:start --> and <!-- diagram:end --> in a Markdown file.',
  flags: {
    ...siteFlag,
    check: { type: 'string', help: 'exit 1 if the diagram block in this file differs from the site' },
    write: { type: 'string', help: 'replace the diagram block in this file' },
  },
} as const;

await command(spec, async (values, out) => {
  if (values.check && values.write) throw new HomeprodError('--check and --write exclude each other', EXIT.usage);
  const diagram = siteDiagram(loadSite(siteFile(values)));
  if (values.check) {
    checkDiagram(values.check, diagram);
    return out.line(`${values.check}: the diagram matches the site`);
  }
  if (values.write) return out.line(`${values.write}: ${writeDiagram(values.write, diagram) ? 'diagram updated' : 'diagram already current'}`);
  process.stdout.write(diagram);
});
