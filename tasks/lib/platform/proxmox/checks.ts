// The doctor's checks of one proxmox stage, as data: each returns zero or more one-line
// problems, each saying what to do. The API's checks run once it answered with an accepted
// token; when it did not, that one line says it all and they are skipped.
import { X509Certificate } from 'node:crypto';
import { PROXMOX_PROVIDER } from '../../../../stacks/provider-pin';
import { proxmoxApi } from './api';
import { apiProblem, type DoctorContext, TOKEN_ENV } from './context';
import { providerCheck } from './provider-check';
import { datastoreNeeds, imagesOf, privilegeNeeds } from './requirements';
import { sshCheck } from './ssh-check';

export interface Check {
  /** What it checks, shown beside its result. */
  title: string;
  /** Runs only once the API answered with an accepted token and the node exists. */
  needsApi?: boolean;
  /** Runs first, in order: the API's own check and the node's, which the others wait for. */
  gate?: boolean;
  run(ctx: DoctorContext): Promise<string[]>;
}

interface NodeStorage {
  storage: string;
  type: string;
  content: string;
  active?: number;
  enabled?: number;
}

const list = (items: string[]) => items.join(', ') || 'none';

async function tokenProblems(ctx: DoctorContext): Promise<string[]> {
  if (ctx.token) return [];
  const set = Boolean(ctx.options.env[TOKEN_ENV]?.trim());
  return [
    set
      ? `${TOKEN_ENV} is not of the form USER@REALM!TOKENID=SECRET: export it as the token's id, "=", its secret`
      : `${TOKEN_ENV} is not set: create a token (pveum user token add terraform@pve homeprod --privsep 0 on the node) and export ${TOKEN_ENV}='terraform@pve!homeprod=<secret>'`,
  ];
}

async function trustProblems(ctx: DoctorContext): Promise<string[]> {
  const problems: string[] = [];
  const { caCert, insecure } = ctx.stage.proxmox;
  if (insecure && !ctx.options.insecure) {
    problems.push(`${ctx.where}.proxmox.insecure: homeprod verifies the API certificate whatever this says: remove it and set ${ctx.where}.proxmox.caCert to a copy of the node's /etc/pve/pve-root-ca.pem (or run with --insecure)`);
  }
  if (caCert && !ctx.options.insecure) {
    const pem = ctx.caPem();
    if (pem === null) problems.push(`${ctx.where}.proxmox.caCert: cannot read ${caCert}: copy the node's /etc/pve/pve-root-ca.pem there`);
    else {
      try {
        new X509Certificate(pem);
      } catch {
        problems.push(`${ctx.where}.proxmox.caCert: ${caCert} is not a PEM certificate: copy the node's /etc/pve/pve-root-ca.pem there`);
      }
    }
  }
  return problems;
}

async function apiProblems(ctx: DoctorContext): Promise<string[]> {
  const token = ctx.token;
  if (!token) return []; // the token check said why
  const api = proxmoxApi({ endpoint: ctx.endpoint, token, ca: ctx.caPem() ?? undefined, insecure: ctx.options.insecure });
  try {
    const { version } = await api.get<{ version: string }>('/version');
    ctx.api = api;
    ctx.version = version;
  } catch (error) {
    return [apiProblem(ctx, error)];
  }
  const major = Number.parseInt(ctx.version, 10);
  if (major !== PROXMOX_PROVIDER.proxmoxVeMajor) {
    return [`${ctx.endpoint} runs Proxmox VE ${ctx.version}; bpg/proxmox ${PROXMOX_PROVIDER.version} (stacks/provider-pin.ts) supports ${PROXMOX_PROVIDER.proxmoxVeMajor}.x only: upgrade the cluster, or pin a provider release that supports it`];
  }
  return [];
}

async function nodeProblems(ctx: DoctorContext): Promise<string[]> {
  const nodes = await ctx.api!.get<Array<{ node: string; status?: string }>>('/nodes');
  const names = nodes.map((n) => n.node).sort();
  const first = nodes.find((n) => n.node === ctx.node);
  ctx.ready = Boolean(first && (!first.status || first.status === 'online'));
  return ctx.stage.proxmox.nodes.flatMap((name, i) => {
    const node = nodes.find((n) => n.node === name);
    if (!node) return [`${ctx.where}.proxmox.nodes[${i}]: "${name}" is not a node of this cluster (it has: ${list(names)}): name one of them`];
    if (node.status && node.status !== 'online') return [`${ctx.where}.proxmox.nodes[${i}]: node "${name}" is ${node.status}: start it, or name an online node`];
    return [];
  });
}

// Storage types whose volumes are block devices (raw only), and types that keep files.
const BLOCK_TYPES = new Set(['lvm', 'lvmthin', 'zfspool', 'rbd', 'iscsi', 'iscsidirect']);
const FILE_TYPES = new Set(['dir', 'nfs', 'cifs', 'cephfs', 'glusterfs']);

async function datastoreProblems(ctx: DoctorContext): Promise<string[]> {
  const storages = await ctx.api!.get<NodeStorage[]>(`/nodes/${encodeURIComponent(ctx.node)}/storage`);
  const seen = list(storages.map((s) => s.storage).sort());
  const problems: string[] = [];
  for (const need of datastoreNeeds(ctx.site, ctx.stage)) {
    const at = `${ctx.where}.${need.field}`;
    const storage = storages.find((s) => s.storage === need.datastore);
    if (!storage) {
      problems.push(`${at}: "${need.datastore}" is not a datastore the token sees on node ${ctx.node} (it sees: ${seen}): name one of them, add it (Datacenter → Storage), or grant Datastore.Audit on /storage/${need.datastore}`);
      continue;
    }
    const content = storage.content.split(',').map((c) => c.trim()).filter(Boolean);
    if (!content.includes(need.content)) {
      problems.push(`${at}: "${need.datastore}" on node ${ctx.node} does not allow content "${need.content}" (it allows: ${list(content)}), needed for ${need.why}: pvesm set ${need.datastore} --content ${[...content, need.content].join(',')} on the node`);
    } else if (storage.enabled === 0 || storage.active === 0) {
      problems.push(`${at}: "${need.datastore}" is ${storage.enabled === 0 ? 'disabled' : 'not active'} on node ${ctx.node}: enable it (pvesm set ${need.datastore} --disable 0) or check it (pvesm status)`);
    }
    if (need.content === 'images') problems.push(...blockProblems(ctx, storage));
  }
  return [...new Set(problems)];
}

/** Disks on block storage must be raw, elsewhere qcow2: `datastores.block` says which is which. */
function blockProblems(ctx: DoctorContext, storage: NodeStorage): string[] {
  const listed = ctx.stage.datastores.block.includes(storage.storage);
  const field = `${ctx.where}.datastores.block`;
  if (BLOCK_TYPES.has(storage.type) && !listed) return [`${field}: "${storage.storage}" is ${storage.type} storage, which holds raw volumes only: add it to ${field}`];
  if (FILE_TYPES.has(storage.type) && listed) return [`${field}: "${storage.storage}" is ${storage.type} storage (files, qcow2): remove it from ${field}`];
  return [];
}

async function privilegeProblems(ctx: DoctorContext): Promise<string[]> {
  const needs = privilegeNeeds(ctx.site, ctx.stage);
  const granted = await Promise.all(
    needs.map((need) => ctx.api!.get<Record<string, Record<string, number>>>('/access/permissions', { path: need.path }).then((data) => Object.keys(data[need.path] ?? {}))),
  );
  // Paths that lack the same privileges share one line.
  const missing = new Map<string, string[]>();
  needs.forEach((need, i) => {
    const lacking = need.privileges.filter((p) => !granted[i]!.includes(p));
    if (lacking.length) missing.set(lacking.join(', '), [...(missing.get(lacking.join(', ')) ?? []), need.path]);
  });
  return [...missing].map(([privileges, paths]) => {
    const aclPath = paths.length > 1 && paths.every((p) => p.startsWith('/vms/')) ? '/vms' : paths[0]!;
    return `the token ${ctx.tokenId} lacks ${privileges} on ${paths.join(', ')}: grant them to ${ctx.tokenUser} (pveum acl modify ${aclPath} --users ${ctx.tokenUser} --roles <a role with them>), and to the token too if it has privilege separation`;
  });
}

const PLACEHOLDER_SHA256 = [
  /^(.)\1{63}$/,
  // The value an earlier example site carried: not the checksum of any image.
  /^5c0d0c4b2d0e7a0c8e56ddc1b0e61bd3d6ad6df2e08cd5f55d0b8ad19d0d0a8a$/,
];

async function imageProblems(ctx: DoctorContext): Promise<string[]> {
  const problems: string[] = [];
  for (const image of imagesOf(ctx.site, ctx.stage)) {
    const at = `images.${image.name}`;
    if (PLACEHOLDER_SHA256.some((p) => p.test(image.sha256))) {
      problems.push(`${at}.sha256 is a placeholder, not the checksum of ${image.url}: download the image, run sha256sum on it and put the sum there`);
    }
    if (!/\.(img|iso)$/.test(image.fileName)) {
      problems.push(`${at}.fileName: "${image.fileName}" must end in .img (or .iso): Proxmox keeps downloads in the iso datastore under those names only`);
    }
  }
  return problems;
}

async function imageUrlProblems(ctx: DoctorContext): Promise<string[]> {
  const problems: string[] = [];
  for (const image of imagesOf(ctx.site, ctx.stage)) {
    const at = `images.${image.name}`;
    try {
      // The node downloads the image itself: ask it whether it reaches the URL.
      await ctx.getOrForbidden(`/nodes/${encodeURIComponent(ctx.node)}/query-url-metadata`, { url: image.url });
    } catch (error) {
      const reason = error instanceof Error ? error.message.replace(/^GET \S+: /, '') : String(error);
      problems.push(`${at}.url: node ${ctx.node} cannot fetch ${image.url} (${reason}): check the URL and that the node reaches it`);
    }
  }
  return problems;
}

/** Every check, in the order they report. */
export const CHECKS: Check[] = [
  { title: `the API token (${TOKEN_ENV})`, gate: true, run: tokenProblems },
  { title: 'certificate verification of the API', gate: true, run: trustProblems },
  { title: 'the Proxmox VE API answers and accepts the token', gate: true, run: apiProblems },
  { title: 'the node(s)', gate: true, needsApi: true, run: nodeProblems },
  { title: 'the datastores and their content types', needsApi: true, run: datastoreProblems },
  { title: 'the token\'s privileges for what the stacks create', needsApi: true, run: privilegeProblems },
  { title: 'the cloud images\' sha256 and file names', run: imageProblems },
  { title: 'the cloud images\' URLs, as the node reaches them', needsApi: true, run: imageUrlProblems },
  { title: `bpg/proxmox ${PROXMOX_PROVIDER.version} for Terraform`, run: providerCheck },
  { title: 'SSH to the node for snippets and disk imports', run: sshCheck },
];
