// Which stages homeprod runs pebble for and keeps a CA for, where HTTP-01 validation is sent,
// and the role variables reaching the control node's vars file.
import { describe, expect, it } from '@jest/globals';
import { managesStageCa, passthroughAddress, runsAcmeServer } from '../../tasks/lib/configure/acme';
import { stageVars } from '../../tasks/lib/configure/bundle';
import { loadSite } from '../../tasks/lib/model/index';
import { parseAnsibleYaml } from '../../tasks/lib/shared/ansible-yaml';
import type { HostOutput, Site } from '../../tasks/lib/model/types';

const withLabTls = (tls: Partial<Site['stages']['lab']['tls']>, platform: Site['stages']['lab']['platform'] = 'local'): Site => {
  const site = loadSite();
  return { ...site, stages: { ...site.stages, lab: { ...site.stages.lab, platform, tls: { ...site.stages.lab.tls, ...tls } } } };
};

describe('local ACME server', () => {
  it('runs for acme on the local platform without a directory of the user\'s own', () => {
    expect(runsAcmeServer(withLabTls({ mode: 'acme' }), 'lab')).toBe(true);
    expect(runsAcmeServer(withLabTls({ mode: 'acme', acmeDirectory: 'https://acme.example/dir' }), 'lab')).toBe(false);
    expect(runsAcmeServer(withLabTls({ mode: 'acme' }, 'proxmox'), 'lab')).toBe(false);
    expect(runsAcmeServer(withLabTls({ mode: 'local-ca' }), 'lab')).toBe(false);
  });

  it('verify trusts a CA homeprod keeps for local-ca and for the local pebble only', () => {
    expect(managesStageCa(withLabTls({ mode: 'local-ca' }), 'lab')).toBe(true);
    expect(managesStageCa(withLabTls({ mode: 'acme' }), 'lab')).toBe(true);
    expect(managesStageCa(withLabTls({ mode: 'acme', acmeDirectory: 'https://acme.example/dir' }), 'lab')).toBe(false);
    expect(managesStageCa(withLabTls({ mode: 'files' }), 'lab')).toBe(false);
  });

  it('sends validation to the passthrough: the applied one first, else the model\'s address', () => {
    const site = loadSite();
    expect(passthroughAddress(site)).toBe('10.111.1.10');
    const applied: HostOutput = { name: 'prod-proxy-passthrough', stage: 'prod', roles: ['passthrough'], ipv4: '10.111.1.77', vmid: 4010, mac: '02:00:00:00:00:01', data_disks: [] };
    expect(passthroughAddress(site, [applied])).toBe('10.111.1.77');
    const none = { ...site, hosts: site.hosts.filter((h) => !h.roles.includes('passthrough')) };
    expect(() => passthroughAddress(none)).toThrow(/no passthrough host/);
  });

  it('puts the acme variables into the vars file the playbooks read', () => {
    const vars = parseAnsibleYaml(stageVars(loadSite(), 'lab', '/b', { certificates_acme_directory: 'https://10.111.2.1:14000/dir', certificates_acme_route_ready: false }));
    expect(vars).toMatchObject({ homeprod_bundle_dir: '/b', certificates_acme_directory: 'https://10.111.2.1:14000/dir', certificates_acme_route_ready: false });
  });
});
