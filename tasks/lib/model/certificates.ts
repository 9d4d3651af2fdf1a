// The certificates a stage needs: services that name the same certificate share one, and
// one TLS server block on the stage proxy. Both the issuer's list (inventory) and the
// stage proxy's server blocks (nginx) come from here, so they cannot disagree.
import type { Service, StageName } from './types';

export interface Certificate {
  /** Directory name on the proxies and the issuer: <tls dir>/<name>/{fullchain,privkey}.pem. */
  name: string;
  /** Every hostname of its services, in service order. */
  hostnames: string[];
  /** Its services, sorted by name. */
  services: Service[];
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The certificates of `stage`'s services, sorted by name. */
export function certificatesOf(services: readonly Service[], stage: StageName): Certificate[] {
  const byCertificate = new Map<string, Service[]>();
  for (const service of services.filter((s) => s.stage === stage)) {
    const group = byCertificate.get(service.certificate) ?? [];
    group.push(service);
    byCertificate.set(service.certificate, group);
  }
  return [...byCertificate].map(([name, group]) => {
    const sorted = group.sort(byName);
    return { name, hostnames: sorted.flatMap((s) => s.hostnames), services: sorted };
  }).sort(byName);
}
