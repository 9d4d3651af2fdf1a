// The end of `up`: a table of services (URL, stage, route, status) and, where the platform
// emulates the router's NAT, a curl command that reaches one through it.
import { relative } from 'node:path';
import { caCertFile } from '../configure';
import type { Site, StageName } from '../model/types';
import { platformOf } from '../platform';
import type { UpContext } from './index';

export function summaryLines(ctx: Pick<UpContext, 'site' | 'verified'>, stages: StageName[]): string[] {
  const site = ctx.site as Site;
  const passthrough = site.hosts.find((h) => h.roles.includes('passthrough'));
  const rows = site.services
    .filter((s) => stages.includes(s.stage))
    .flatMap((service) =>
      service.hostnames.map((hostname) => {
        const proxy = site.hosts.find((h) => h.stage === service.stage && h.roles.includes('stage-proxy'));
        const result = ctx.verified?.[service.stage]?.find((r) => r.hostname === hostname);
        const status = !result ? 'not verified' : result.ok ? 'ok' : `FAILED: ${result.problem}`;
        return [`https://${hostname}/`, service.stage, `${passthrough?.name} → ${proxy?.name} → ${service.upstream.host ?? service.upstream.address}:${service.upstream.port}`, status];
      }),
    );
  const header = ['URL', 'STAGE', 'ROUTE', 'STATUS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const lines = [line(header), ...rows.map(line)];
  const edge = passthrough ? site.stages[passthrough.stage] : site.stages.prod;
  const example = site.services.find((s) => stages.includes(s.stage));
  if (platformOf(edge).natEmulation(edge) && example) {
    const name = example.hostnames[0]!;
    const { address, httpsPort } = platformOf(edge).entrypoint(edge, passthrough?.ipv4 ?? '');
    const ca = relative(process.cwd(), caCertFile(example.stage));
    lines.push('', 'Reach a service through the emulated NAT:', `  curl --resolve ${name}:${httpsPort}:${address} --cacert ${ca} https://${name}:${httpsPort}/`);
  }
  return lines;
}
