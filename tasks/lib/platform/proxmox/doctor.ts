// The doctor of a proxmox stage: every check of checks.ts in order, the API's once it answered.
// `tasks/doctor.ts` prints the results; the platform's preflight refuses to plan on a problem.
import type { Site, Stage } from '../../model/types';
import { type Check, CHECKS } from './checks';
import { apiProblem, DoctorContext, type DoctorOptions } from './context';

export interface CheckResult {
  title: string;
  /** One line each, saying what to do. */
  problems: string[];
  /** Not run: the API did not answer (its own check says why). */
  skipped: boolean;
}

export interface StageDoctor {
  stage: Stage;
  /** The Proxmox VE version the API reported ('' when it did not answer). */
  version: string;
  results: CheckResult[];
}

export async function doctorStage(site: Site, stage: Stage, options: DoctorOptions): Promise<StageDoctor> {
  const ctx = new DoctorContext(site, stage, options);
  const run = async (check: Check): Promise<CheckResult> => {
    if (check.needsApi && !(check.gate ? ctx.api : ctx.ready)) return { title: check.title, problems: [], skipped: true };
    try {
      return { title: check.title, problems: await check.run(ctx), skipped: false };
    } catch (error) {
      // An answer nobody expected (a 5xx, a lost connection) is a problem of that check.
      return { title: check.title, problems: [apiProblem(ctx, error)], skipped: false };
    }
  };
  // The gate (token, trust, API, node) in order: it decides whether the API's checks can run.
  const results: CheckResult[] = [];
  for (const check of CHECKS.filter((c) => c.gate)) results.push(await run(check));
  results.push(...(await Promise.all(CHECKS.filter((c) => !c.gate).map(run))));
  return { stage, version: ctx.version, results };
}

export const problemsOf = (doctor: StageDoctor): string[] => doctor.results.flatMap((r) => r.problems);

/** Every stage of the site that runs on this platform. */
export const proxmoxStages = (site: Site): Stage[] => Object.values(site.stages).filter((s) => s.platform === 'proxmox');
