// The configure layer: run the playbooks ON the stage's control node. The steps check the node
// (reachable, key present and unlocked), put the stage key and vault password on its data disk
// the first time, send ansible/ with the rendered inventory and configs, run ansible-playbook
// there with the stage's vault id while streaming its output into the task, and read the
// recap so callers can assert that a second run changed nothing.
import type { HostOutput, Site, StageName } from '../model/types';
import type { ControlLink } from '../shared/link';
import type { Stores } from '../shared/store';
import type { Step, StepTask } from '../ui/listr';
import { secretInTask } from '../ui/prompts';
import type { RecapCounts } from './recap';
import type { Selection } from './selection';
import { ConfigureRun, checkControlNode, choosePlays, fetchStageCa, placeSecrets, runPlaybooks, sendBundle, startAcmeServer, unlockKey } from './steps';

export { caCertFile, hasCaCert } from './ca';
export { parseRecap, totalChanged, type RecapCounts } from './recap';

export interface ConfigureResult {
  /** Counts per host from the PLAY RECAP. */
  recap: Record<string, RecapCounts>;
  /** Changed tasks over all hosts: 0 on a converged stage. */
  changed: number;
  /** The CA verify trusts for the stage (local-ca: the stage CA; acme: the root of the ACME server homeprod runs). */
  caCert: string | null;
  /**
   * tls mode acme ran while nothing answered on the passthrough's port 80 (its stage not up
   * yet): the proxies serve placeholders, and a configure run once the route is up issues.
   */
  acmePending: boolean;
  /** The full ansible-playbook output (secrets are no_log in the roles). */
  logFile: string;
  /** Which plays ran on which hosts, and why. */
  selection: Selection;
}

export interface ConfigureContext {
  site?: Site;
  /** Terraform outputs of the applied stages (to find the control node's address). */
  outputs?: HostOutput[];
  /** Render results, as render's steps leave them. */
  rendered?: Partial<Record<StageName, { outDir: string }>>;
  configured?: Partial<Record<StageName, ConfigureResult>>;
}

export type AskPassphrase = (task: StepTask<ConfigureContext>, message: string) => Promise<string>;

export interface ConfigureOptions {
  stage: StageName;
  /** The site; else ctx.site. */
  site?: Site;
  /** The stage's render output; else ctx.rendered[stage].outDir. */
  renderDir?: string;
  /** How to reach the control node; default: as the stage's platform reaches it. */
  link?: ControlLink;
  /** known_hosts for the node's own ssh; default: what the stage's platform ships. */
  knownHosts?: string | null;
  /** The stage key pair on this machine; default .state/keys/<stage>-control. */
  keyFile?: string;
  /** Ask for the key's passphrase when the node is locked; absent = stop with a message. */
  askPassphrase?: AskPassphrase;
  /** Extra ansible-playbook arguments. */
  extraArgs?: string[];
  /** Run every play on every host, whatever changed (repairs drift the inputs do not show). */
  full?: boolean;
  /** Where the stage's record of what each play ran with is; default: by the site's state backends. */
  stores?: Stores;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** A passphrase prompt inside the running task (inquirer adapter), for interactive runs. */
export const promptPassphrase: AskPassphrase = (task, message) => secretInTask(task, message);

/** The configure layer's steps, in the order they run. */
export function configureSteps(opts: ConfigureOptions): Step<ConfigureContext>[] {
  const run = new ConfigureRun(opts);
  return [checkControlNode(run), placeSecrets(run), unlockKey(run), startAcmeServer(run), choosePlays(run), sendBundle(run), runPlaybooks(run), fetchStageCa(run)];
}
