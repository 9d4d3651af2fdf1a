// Host keys for golden files: real ed25519 pairs made from a seed per host name, so the
// user-data (and the content hash in its snippet's name) is the same on every run. Fixtures
// only: production keys come from HostKeyStore, from random seeds.
import { createHash } from 'node:crypto';
import { ed25519KeyPair, type HostKeySource } from '../../tasks/lib/shared/host-keys';

export const fixtureHostKeys: HostKeySource = (host) =>
  ed25519KeyPair(`root@${host}`, createHash('sha256').update(`homeprod test fixture host key ${host}`).digest());
