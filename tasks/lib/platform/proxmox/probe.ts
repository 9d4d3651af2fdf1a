// The cheapest question to a Proxmox cluster: does its API endpoint accept a TCP connection?
// A clear precondition error instead of a provider timeout deep inside a plan.
import { connect } from 'node:net';
import type { Stage } from '../../model/types';
import { EXIT, HomeprodError } from '../../ui/errors';

/** A TCP connect to the Proxmox API endpoint: a clear precondition error instead of a provider timeout. */
export async function probeProxmox(stage: Stage, timeoutMs = 5000): Promise<void> {
  const url = new URL(stage.proxmox.endpoint);
  const port = Number(url.port || (url.protocol === 'http:' ? 80 : 443));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const problem = await new Promise<string | null>((done) => {
    const socket = connect({ host, port });
    const finish = (result: string | null) => {
      socket.destroy();
      done(result);
    };
    socket.setTimeout(timeoutMs, () => finish(`no answer within ${timeoutMs / 1000}s`));
    socket.once('connect', () => finish(null));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  });
  if (problem) {
    throw new HomeprodError(
      `stages.${stage.name}: the Proxmox cluster at ${stage.proxmox.endpoint} is not reachable (${problem})`,
      EXIT.precondition,
      `check the network path to ${host}:${port}, or set stages.${stage.name}.platform: local in the site file to rehearse on this machine`,
    );
  }
}
