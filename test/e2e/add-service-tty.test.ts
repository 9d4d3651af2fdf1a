// The wizard through a real terminal: tmux runs it on a pseudo-terminal, we type into it with
// send-keys and read the screen with capture-pane, as a person would.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { loadSite } from '../../tasks/lib/model';

const session = 'wizard';
let dir: string;
// A private tmux server on a socket in our temp dir, so nothing else on the machine is touched.
const tmux = (...args: string[]) => $({ nothrow: true, quiet: true })`tmux -S ${join(dir, 'tmux.sock')} ${args}`;

let siteFile: string;
let original: string;

const screen = async () => (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session)).stdout;

/** Waits (bounded) until the screen shows `text`; fails with the screen's content. */
async function waitFor(text: string | RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await screen();
    if (typeof text === 'string' ? shown.includes(text) : text.test(shown)) return shown;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)}; the screen shows:\n${shown}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const type = (text: string) => tmux('send-keys', '-t', session, '-l', text);
const press = (...keys: string[]) => tmux('send-keys', '-t', session, ...keys);

/** Starts the wizard in a fresh tmux session (the previous one, if any, is gone first). */
async function startWizard(): Promise<void> {
  await tmux('kill-session', '-t', session);
  // CI would make the wizard refuse to prompt; a person's terminal has no CI variable.
  const command = `env -u CI NO_COLOR=1 npx --no-install tsx tasks/add-service.ts --site ${siteFile} --no-up; echo "wizard exited $?"; sleep 300`;
  const started = await tmux('new-session', '-d', '-s', session, '-x', '150', '-y', '60', '-c', process.cwd(), command);
  if (started.exitCode !== 0) throw new Error(`tmux failed: ${started.stderr}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'add-service-tty-'));
  siteFile = join(dir, 'site.yaml');
  copyFileSync('inventory/site.yaml', siteFile);
  original = readFileSync(siteFile, 'utf8');
});

afterAll(async () => {
  await tmux('kill-server');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('add-service in a real terminal', () => {
  it('stops cleanly on Ctrl-C: exit 130, no stack trace, nothing written', async () => {
    await startWizard();
    await waitFor('Service name');
    await type('half');
    await press('C-c');
    const end = await waitFor(/wizard exited \d+/);
    expect(end).toContain('error: interrupted');
    expect(end).toContain('wizard exited 130');
    expect(end).not.toMatch(/\n\s+at /);
    expect(readFileSync(siteFile, 'utf8')).toBe(original);
  }, 180_000);

  it('asks, re-asks an invalid answer, shows the diff and writes the service', async () => {
    await startWizard();
    await waitFor('Service name');
    await type('Grafana');
    await press('Enter');
    await waitFor('is not a valid service name');
    await press('C-u'); // the rejected answer stays in the field; clear it like a person would
    await type('grafana');
    await press('Enter');

    await waitFor('Stage');
    await press('Enter'); // lab is the default

    await waitFor('(grafana.lab.pegasuspad.com)'); // the suggestion, shown as the default
    await press('Enter');

    const upstream = await waitFor('an address…');
    expect(upstream).toContain('lab-whoami  10.111.2.20  (application)');
    expect(upstream).not.toContain('prod-whoami'); // only hosts of the chosen stage
    await press('Enter'); // applications come first: lab-whoami

    await waitFor('Upstream port');
    await type('3000');
    await press('Enter');

    await waitFor('Pass websocket upgrades through?');
    await type('y');
    await press('Enter');

    await waitFor('Largest request body');
    await press('Enter'); // 10m

    const diff = await waitFor('Write this change');
    expect(diff).toContain('+  - name: grafana');
    expect(diff).toContain('+    upstream: { host: lab-whoami, port: 3000 }');
    expect(readFileSync(siteFile, 'utf8')).toBe(original); // nothing written before the answer
    await type('y');
    await press('Enter');

    const end = await waitFor(/wizard exited \d+/);
    expect(end).toContain('Added service grafana (grafana.lab.pegasuspad.com, lab)');
    expect(end).toContain(`Next: npx tsx tasks/up.ts --stage lab --site ${siteFile}`);
    expect(end).toContain('wizard exited 0');

    const written = readFileSync(siteFile, 'utf8');
    expect(written.startsWith(original)).toBe(true);
    expect(loadSite(siteFile).services.find((s) => s.name === 'grafana')).toMatchObject({ stage: 'lab', hostnames: ['grafana.lab.pegasuspad.com'], websocket: true, upstream: { host: 'lab-whoami', port: 3000 } });
  }, 180_000);
});
