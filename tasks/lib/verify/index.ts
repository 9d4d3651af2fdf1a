// The verify layer: every service of a stage checked for real, from outside, through the
// passthrough as clients reach it (the stage's platform says where that is).
import { existsSync, readFileSync } from 'node:fs';
import { caCertFile, type ConfigureResult } from '../configure';
import { managesStageCa } from '../configure/acme';
import type { HostOutput, Site, StageName } from '../model/types';
import { platformOf } from '../platform';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Step } from '../ui/listr';
import { failureLines } from './report';
import { type VerifyResult, verifyRouting, type VerifyTarget } from './routing';

export { failureLines, resultTable } from './report';
export { verifyRouting, type ProbeKind, type VerifyResult, type VerifyTarget } from './routing';

export interface VerifyContext {
  site?: Site;
  outputs?: HostOutput[];
  configured?: Partial<Record<StageName, ConfigureResult>>;
  verified?: Partial<Record<StageName, VerifyResult[]>>;
}

export interface VerifyOptions {
  stage: StageName;
  env?: NodeJS.ProcessEnv;
}

/** How the stage is reached and what it must answer, from the site, outputs and configure. */
export function stageTarget(site: Site, stage: StageName, outputs: HostOutput[], env: NodeJS.ProcessEnv = process.env, caFile?: string | null): VerifyTarget {
  const passthrough = outputs.find((h) => h.roles.includes('passthrough'));
  if (!passthrough) {
    throw new HomeprodError(`cannot verify ${stage}: no passthrough host is up (every stage is verified through it)`, EXIT.precondition, 'bring up the stage that holds the passthrough (prod) first');
  }
  const edge = site.stages[passthrough.stage];
  const entry = platformOf(edge).entrypoint(edge, passthrough.ipv4);
  let ca: string | undefined;
  if (managesStageCa(site, stage)) {
    const file = caFile ?? caCertFile(stage, env);
    if (!existsSync(file)) throw new HomeprodError(`cannot verify ${stage}: no CA certificate at ${file}`, EXIT.precondition, `configure ${stage} first (it fetches the stage CA)`);
    ca = readFileSync(file, 'utf8');
  }
  const proxies = outputs.filter((h) => h.stage === stage && h.roles.includes('stage-proxy')).map((h) => h.name);
  const nonce = 'homeprod-verify-unknown';
  return {
    address: entry.address,
    port: entry.httpsPort,
    services: site.services.filter((s) => s.stage === stage),
    ca,
    expectedProxy: { [stage]: proxies },
    // A real router's NAT keeps the client's own address, which is not known here.
    expectedClient: entry.client,
    unknownNames: [`${nonce}.${stage === 'lab' ? site.labDomain : site.domain}`],
  };
}

/** The verify layer: one step that checks every service of the stage through the passthrough. */
export function verifySteps(opts: VerifyOptions): Step<VerifyContext>[] {
  const { stage } = opts;
  return [
    {
      title: `Verify ${stage}: a TLS handshake per service name through the passthrough`,
      task: async (ctx, task) => {
        if (!ctx.site) throw new Error('the site was not loaded');
        const target = stageTarget(ctx.site, stage, ctx.outputs ?? [], opts.env, ctx.configured?.[stage]?.caCert);
        const results = await verifyRouting(target);
        ctx.verified = { ...ctx.verified, [stage]: results };
        const failed = results.filter((r) => !r.ok);
        for (const line of failureLines(results)) task.output = line;
        const names = results.filter((r) => r.kind === 'service').length;
        task.title = failed.length
          ? `Verify ${stage}: ${failed.length} of ${results.length} checks failed (via ${target.address}:${target.port})`
          : `Verified ${stage}: ${names} service names, unknown name and no-SNI refused (via ${target.address}:${target.port})`;
      },
    },
  ];
}
