// The check layer: validate the site and describe it, per stage, in plain lines.
import { validateSite } from '../model';
import { HomeprodError, EXIT } from '../ui/errors';
import type { Site, StageName } from '../model/types';
import { allPlatforms, platformOf } from '../platform';
import type { Step } from '../ui/listr';

/** Lines describing one stage: hosts with IP, VMID, roles, data disks; services with their route. */
export function stageSummary(site: Site, stage: StageName): string[] {
  const s = site.stages[stage];
  const hosts = site.hosts.filter((h) => h.stage === stage);
  const passthrough = site.hosts.find((h) => h.roles.includes('passthrough'));
  const proxy = hosts.find((h) => h.roles.includes('stage-proxy'));
  const width = Math.max(...hosts.map((h) => h.name.length));
  const lines = [`${stage}: platform ${s.platform}, ${s.network.cidr} via ${s.network.gateway}, VMIDs ${s.vmidRange.from}-${s.vmidRange.to}, state ${s.state.backend}, TLS ${s.tls.mode}`, '  hosts:'];
  for (const h of hosts) {
    const disks = h.dataDisks.map((d) => `${d.mountpoint} ${d.size}G${d.readOnly ? ' ro' : ''} on ${h.dataVmName} (${h.dataVmid})`).join(', ');
    lines.push(`    ${h.name.padEnd(width)}  ${(h.ipv4 ?? 'dhcp').padEnd(15)} vmid ${h.vmid}  ${h.roles.join(', ')}${disks ? `  data: ${disks}` : ''}`);
  }
  const services = site.services.filter((svc) => svc.stage === stage);
  lines.push('  services:');
  if (services.length === 0) lines.push('    (none)');
  for (const svc of services) {
    const upstream = `${svc.upstream.host ?? svc.upstream.address}:${svc.upstream.port}`;
    const certificate = svc.certificate === svc.hostnames[0] ? '' : `  (certificate ${svc.certificate})`;
    lines.push(`    ${svc.name}: ${svc.hostnames.join(', ')} → ${passthrough?.name ?? 'passthrough'} → ${proxy?.name ?? '(no stage proxy)'} → ${upstream}${certificate}`);
  }
  return lines;
}

/** The Terraform providers each platform's stacks use, as pinned, and which stages use them. */
export function providerLines(site: Site): string[] {
  return allPlatforms().flatMap((platform) => {
    const stages = Object.values(site.stages).filter((s) => platformOf(s) === platform).map((s) => s.name);
    return platform.terraformProviders.map((p) => `terraform provider ${p.source} ${p.version} (pinned in ${p.pinnedIn}), for stages on ${platform.name}: ${stages.join(', ') || 'none'}`);
  });
}

export interface CheckContext {
  siteFile: string;
  site?: Site;
}

/** Step: load and validate the site (every error at once), leaving it in ctx.site. */
export function checkSteps(): Step<CheckContext>[] {
  return [
    {
      title: 'Load and validate the site',
      task: (ctx, task) => {
        const { site, errors } = validateSite(ctx.siteFile);
        if (!site) throw new HomeprodError(`${ctx.siteFile} is not a valid site (${errors.length} error${errors.length === 1 ? '' : 's'}):`, EXIT.failed, undefined, errors);
        ctx.site = site;
        task.title = `Site is valid: ${site.hosts.length} hosts, ${site.services.length} services in ${site.domain}`;
      },
    },
  ];
}
