// An HTTPS server on loopback answering the GET calls homeprod's doctor makes as the documented
// Proxmox VE API does (https://pve.proxmox.com/pve-docs/api-viewer/): `{"data": ...}` envelopes,
// `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`, the reason of a failure in the status
// line (401 for a bad token, 403 "Permission check failed", 500 for a missing storage), effective
// privileges from ACL paths that propagate to their sub-paths, and storage lists filtered by what
// the token may see. Its certificate comes from a CA the test makes; clients trust that CA.
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { issueCertificate, makeCa, type TestCa } from './render-nginx';

export interface EmulatedStorage {
  storage: string;
  type: string;
  /** Comma-separated, as the API gives it. */
  content: string;
  path?: string;
  active?: number;
  enabled?: number;
}

export interface EmulatedCluster {
  version: string;
  /** Token id (USER@REALM!NAME) → secret. */
  tokens: Record<string, string>;
  nodes: Array<{ node: string; status: string }>;
  storage: EmulatedStorage[];
  /** ACL path → privileges granted there, propagating to sub-paths. */
  acl: Record<string, string[]>;
  network: Record<string, Array<{ iface: string; type: string; address?: string; gateway?: string; cidr?: string }>>;
  /** URLs the node can fetch (query-url-metadata); any other answers 500. */
  urls: Record<string, { filename: string; size: number; mimetype: string }>;
}

/** Every privilege the doctor asks about, granted at / : a token that may do everything. */
export const ALL_PRIVILEGES = [
  'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit', 'SDN.Use', 'Sys.Audit', 'Sys.Modify',
  'VM.Allocate', 'VM.Audit', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory',
  'VM.Config.Network', 'VM.Config.Options', 'VM.Monitor', 'VM.PowerMgmt',
];

export interface EmulatedApi {
  /** https://127.0.0.1:<port>/ (the endpoint as the site names it). */
  endpoint: string;
  ca: TestCa;
  /** The CA certificate file, for `proxmox.caCert`. */
  caFile: string;
  cluster: EmulatedCluster;
  /** Every request: `GET /api2/json/...` with its query. */
  requests: string[];
  close(): Promise<void>;
}

class ApiAnswer {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly data: unknown = null,
  ) {}
}

const ok = (data: unknown) => new ApiAnswer(200, 'OK', data);

function privilegesAt(cluster: EmulatedCluster, path: string): string[] {
  const granted = new Set<string>();
  for (const [acl, privs] of Object.entries(cluster.acl)) {
    if (acl === '/' || path === acl || path.startsWith(`${acl}/`)) privs.forEach((p) => granted.add(p));
  }
  return [...granted].sort();
}

const has = (cluster: EmulatedCluster, path: string, privs: string[]) => privs.every((p) => privilegesAt(cluster, path).includes(p));
const denied = (path: string, privs: string[]) => new ApiAnswer(403, `Permission check failed (${path}, ${privs.join('|')})`);

function route(cluster: EmulatedCluster, path: string, query: URLSearchParams): ApiAnswer {
  let m: RegExpExecArray | null;
  if (path === '/version') return ok({ version: cluster.version, release: cluster.version.split('.').slice(0, 2).join('.'), repoid: '0123456789abcdef' });
  if (path === '/nodes') return ok(cluster.nodes.map((n) => ({ node: n.node, status: n.status, type: 'node', id: `node/${n.node}` })));
  if (path === '/access/permissions') {
    const at = query.get('path') ?? '/';
    return ok({ [at]: Object.fromEntries(privilegesAt(cluster, at).map((p) => [p, 1])) });
  }
  if ((m = /^\/storage\/([^/]+)$/.exec(path))) {
    const storage = cluster.storage.find((s) => s.storage === m![1]);
    if (!storage) return new ApiAnswer(500, `storage '${m[1]}' does not exist`);
    if (!has(cluster, path, ['Datastore.Allocate'])) return denied(path, ['Datastore.Allocate']);
    return ok({ storage: storage.storage, type: storage.type, content: storage.content, path: storage.path, digest: 'd' });
  }
  const node = /^\/nodes\/([^/]+)(\/.*)$/.exec(path);
  if (!node) return new ApiAnswer(501, `Method 'GET ${path}' not implemented`);
  const [, name, rest] = node;
  if (!cluster.nodes.some((n) => n.node === name)) return new ApiAnswer(500, `hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`);
  if (rest === '/storage') {
    // Only the entries the token may see (Datastore.Audit or Datastore.AllocateSpace).
    const visible = cluster.storage.filter((s) => has(cluster, `/storage/${s.storage}`, ['Datastore.Audit']) || has(cluster, `/storage/${s.storage}`, ['Datastore.AllocateSpace']));
    return ok(visible.map((s) => ({ storage: s.storage, type: s.type, content: s.content, active: s.active ?? 1, enabled: s.enabled ?? 1, shared: 0 })));
  }
  if (rest === '/network') return ok(cluster.network[name!] ?? []);
  if (rest === '/query-url-metadata') {
    if (!has(cluster, '/', ['Sys.Audit', 'Sys.Modify']) && !has(cluster, `/nodes/${name}`, ['Sys.AccessNetwork'])) return denied('/', ['Sys.Audit', 'Sys.Modify']);
    const meta = cluster.urls[query.get('url') ?? ''];
    return meta ? ok(meta) : new ApiAnswer(500, `invalid server response: '500 Can't connect to the host'`);
  }
  return new ApiAnswer(501, `Method 'GET ${path}' not implemented`);
}

function authorized(cluster: EmulatedCluster, header: string | undefined): boolean {
  const m = /^PVEAPIToken=([^=]+)=(.+)$/.exec(header ?? '');
  return Boolean(m && cluster.tokens[m[1]!] === m[2]);
}

/** Starts the server on 127.0.0.1 (an ephemeral port) with a certificate for that address. */
export async function startProxmoxApi(dir: string, cluster: EmulatedCluster): Promise<EmulatedApi> {
  const ca = makeCa(join(dir, 'ca'));
  const certDir = issueCertificate(ca, join(dir, 'tls'), ['127.0.0.1', 'localhost'], 'api');
  const requests: string[] = [];
  const server: Server = createServer({ key: readFileSync(join(certDir, 'privkey.pem')), cert: readFileSync(join(certDir, 'fullchain.pem')) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    let answer: ApiAnswer;
    if (!url.pathname.startsWith('/api2/json/')) answer = new ApiAnswer(404, 'Not Found');
    else if (!authorized(cluster, req.headers.authorization)) answer = new ApiAnswer(401, req.headers.authorization ? 'invalid token value!' : 'No ticket');
    else if (req.method !== 'GET') answer = new ApiAnswer(501, `Method '${req.method}' not implemented`);
    else answer = route(cluster, url.pathname.slice('/api2/json'.length), url.searchParams);
    res.writeHead(answer.status, answer.reason, { 'Content-Type': 'application/json;charset=UTF-8' });
    res.end(JSON.stringify({ data: answer.data }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}/`,
    ca,
    caFile: ca.cert,
    cluster,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** A cluster with everything the Pegasus site's stage needs, for a token that may do it all. */
export function readyCluster(tokenId: string, secret: string, imageUrl: string): EmulatedCluster {
  return {
    version: '8.2.4',
    tokens: { [tokenId]: secret },
    nodes: [{ node: 'pve', status: 'online' }],
    storage: [
      { storage: 'local', type: 'dir', content: 'iso,vztmpl,backup,snippets', path: '/var/lib/vz' },
      { storage: 'local-lvm', type: 'lvmthin', content: 'images,rootdir' },
      { storage: 'hdd', type: 'dir', content: 'images', path: '/mnt/hdd' },
    ],
    acl: { '/': ALL_PRIVILEGES },
    network: { pve: [{ iface: 'vmbr0', type: 'bridge', address: '127.0.0.1', cidr: '127.0.0.1/8', gateway: '127.0.0.254' }] },
    urls: { [imageUrl]: { filename: imageUrl.split('/').pop()!, size: 343_000_000, mimetype: 'application/octet-stream' } },
  };
}
