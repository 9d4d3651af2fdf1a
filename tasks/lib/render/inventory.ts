// The stage's Ansible inventory, built from terraform outputs only: the outputs are what
// exists, the model is what should. Only the services' mapping to their application hosts
// comes from the model.
import { HomeprodError } from '../ui/errors';
import { certificatesOf } from '../model/certificates';
import type { HostOutput, Role, Site, StageName } from '../model/types';
import { GENERATED_HEADER } from './env';
import { DEFAULT_TLS_DIR } from './nginx';
import { stringifyAnsibleYaml } from '../shared/ansible-yaml';

/** Inventory group of each role (contracts.md). */
export const ROLE_GROUPS: Record<Role, string> = {
  'control-node': 'control_nodes',
  passthrough: 'passthrough',
  'stage-proxy': 'stage_proxies',
  'certificate-host': 'certificate_hosts',
  application: 'applications',
};

interface HostVars {
  ansible_host: string;
  homeprod_roles: Role[];
  homeprod_data_disks: Array<{ label: string; mountpoint: string; read_only: boolean }>;
  homeprod_services?: Array<{ name: string; port: number; hostnames: string[] }>;
}

export function renderInventory(site: Site, stage: StageName, outputs: readonly HostOutput[]): string {
  const hosts = outputs.filter((h) => h.stage === stage).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (hosts.length === 0) throw new HomeprodError(`no terraform outputs for stage ${stage}: nothing to put in its inventory`);
  const services = site.services.filter((s) => s.stage === stage).sort((a, b) => (a.name < b.name ? -1 : 1));

  const hostVars: Record<string, HostVars> = {};
  for (const host of hosts) {
    const vars: HostVars = {
      ansible_host: host.ipv4,
      homeprod_roles: [...host.roles],
      homeprod_data_disks: host.data_disks.map((d) => ({ label: d.label, mountpoint: d.mountpoint, read_only: d.read_only })),
    };
    if (host.roles.includes('application')) {
      vars.homeprod_services = services.filter((s) => s.upstream.host === host.name).map((s) => ({ name: s.name, port: s.upstream.port, hostnames: [...s.hostnames] }));
    }
    hostVars[host.name] = vars;
  }

  const members = (list: HostOutput[]) => Object.fromEntries(list.map((h) => [h.name, null]));
  const children: Record<string, { hosts: Record<string, null> }> = {
    [`stage_${stage}`]: { hosts: members(hosts) },
  };
  for (const [role, group] of Object.entries(ROLE_GROUPS) as Array<[Role, string]>) {
    children[group] = { hosts: members(hosts.filter((h) => h.roles.includes(role))) };
  }

  const tls = site.stages[stage].tls;
  const inventory = {
    all: {
      vars: {
        homeprod_stage: stage,
        homeprod_domain: site.domain,
        homeprod_lab_domain: site.labDomain,
        homeprod_tls: {
          mode: tls.mode,
          ...(tls.acmeDirectory === undefined ? {} : { acme_directory: tls.acmeDirectory }),
          ...(tls.acmeEmail === undefined ? {} : { acme_email: tls.acmeEmail }),
          ...(tls.filesDir === undefined ? {} : { files_dir: tls.filesDir }),
          allow_tls12: tls.allowTls12,
        },
        homeprod_tls_dir: DEFAULT_TLS_DIR,
        // Named by (and stored under) the services' `certificate`; the issuer (control node or
        // certificate host) and the stage proxies both read it.
        homeprod_certificates: certificatesOf(site.services, stage).map((c) => ({ name: c.name, hostnames: c.hostnames })),
      },
      hosts: hostVars,
      children,
    },
  };
  return `# ${GENERATED_HEADER}\n# Ansible inventory of stage ${stage}, from terraform outputs.\n${stringifyAnsibleYaml(inventory)}`;
}
