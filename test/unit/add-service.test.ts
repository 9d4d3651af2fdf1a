import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addService, insertService, writeService, type AddServiceOptions, type ServiceAnswers } from '../../tasks/lib/add-service';
import { EXIT, HomeprodError } from '../../tasks/lib/ui/errors';
import { loadSite } from '../../tasks/lib/model';
import { captureOutput } from '../../tasks/lib/ui/output';
import { scriptedPrompter, type ScriptedAnswer } from '../../tasks/lib/ui/prompts';

let dir: string;
let siteFile: string;
let original: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'add-service-'));
  siteFile = join(dir, 'site.yaml');
  copyFileSync('inventory/site.yaml', siteFile);
  chmodSync(siteFile, 0o640);
  original = readFileSync(siteFile, 'utf8');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(script: ScriptedAnswer[], extra: Partial<AddServiceOptions> = {}) {
  const prompts = scriptedPrompter(script);
  const out = captureOutput();
  const upCalls: string[][] = [];
  const result = addService({
    siteFile,
    flags: {},
    yes: false,
    interactive: true,
    prompts,
    out,
    runUp: async (args) => (upCalls.push(args), 0),
    ...extra,
  });
  return { result, prompts, out, upCalls };
}

/** Every line of `before` appears in `after`, in the same order. */
function keepsEveryLineInOrder(before: string, after: string): boolean {
  const rest = after.split('\n');
  let at = 0;
  for (const line of before.split('\n')) {
    const found = rest.indexOf(line, at);
    if (found === -1) return false;
    at = found + 1;
  }
  return true;
}

const noTempLeft = () => expect(readdirSync(dir)).toEqual(['site.yaml']);

describe('the add-service wizard, with injected answers', () => {
  it('re-asks invalid answers, writes the service, keeps every comment and the order, and the site validates', async () => {
    const { result, prompts, out, upCalls } = run([
      'Grafana', // invalid: uppercase
      'whoami', // taken
      'grafana',
      'lab',
      'grafana.pegasuspad.com', // a lab name must be under lab.pegasuspad.com
      'whoami.lab.pegasuspad.com', // taken
      undefined, // the suggestion
      'lab-whoami',
      '70000', // not a port
      '3000',
      true, // websocket
      'ten megs', // not an nginx size
      '50m',
      true, // write
      false, // do not run up now
    ]);
    expect(await result).toBe(EXIT.ok);
    expect(prompts.rejected.map((r) => r.answer)).toEqual(['Grafana', 'whoami', 'grafana.pegasuspad.com', 'whoami.lab.pegasuspad.com', '70000', 'ten megs']);
    expect(prompts.rejected[2]!.reason).toContain('under lab.pegasuspad.com');
    expect(prompts.rejected[3]!.reason).toContain('already served by whoami-lab');

    const written = readFileSync(siteFile, 'utf8');
    expect(written.startsWith(original)).toBe(true); // appended, nothing else touched
    expect(keepsEveryLineInOrder(original, written)).toBe(true);
    expect(written.slice(original.length)).toBe(
      ['  - name: grafana', '    stage: lab', '    hostnames: [grafana.lab.pegasuspad.com]', '    upstream: { host: lab-whoami, port: 3000 }', '    websocket: true', '    maxBodySize: 50m', ''].join('\n'),
    );
    const service = loadSite(siteFile).services.find((s) => s.name === 'grafana');
    expect(service).toMatchObject({ stage: 'lab', hostnames: ['grafana.lab.pegasuspad.com'], upstream: { host: 'lab-whoami', address: '10.111.2.20', port: 3000 }, websocket: true, maxBodySize: '50m' });
    expect(statSync(siteFile).mode & 0o777).toBe(0o640);
    noTempLeft();

    expect(out.lines).toContain('+  - name: grafana');
    expect(out.lines.some((l) => l.startsWith('@@ '))).toBe(true);
    expect(out.lines).toContain('Next: npx tsx tasks/up.ts --stage lab --site ' + siteFile);
    expect(upCalls).toEqual([]);
  });

  it('offers only hosts of the chosen stage, or an address', async () => {
    const { result, prompts } = run(['api', 'prod', undefined, 'lab-whoami'], { yes: true, up: false });
    // lab-whoami is not a choice for a prod service: the scripted select refuses it like the menu would.
    await expect(result).rejects.toThrow(/not a choice of "Upstream" \(prod-whoami, prod-proxy-passthrough, prod-proxy, prod-ansible, Symbol/);
    expect(prompts.asked).toEqual(['Service name', 'Stage', 'Hostname', 'Upstream']);
  });

  it('takes an address for the upstream, re-asking a bad one', async () => {
    const { result, prompts, upCalls } = run(['api', 'prod', undefined, 'an address…', '10.0.0', '192.168.7.9', '8000', false, undefined, true, true]);
    expect(await result).toBe(EXIT.ok);
    expect(prompts.rejected.map((r) => r.answer)).toEqual(['10.0.0']);
    const service = loadSite(siteFile).services.find((s) => s.name === 'api');
    expect(service).toMatchObject({ stage: 'prod', hostnames: ['api.pegasuspad.com'], upstream: { host: null, address: '192.168.7.9', port: 8000 }, websocket: false, maxBodySize: '10m' });
    expect(readFileSync(siteFile, 'utf8')).toContain('    upstream: { address: 192.168.7.9, port: 8000 }\n');
    expect(upCalls).toEqual([['--stage', 'lab', '--site', siteFile, '--yes']]); // every change goes through lab first
  });

  it('writes nothing when the user declines', async () => {
    const { result, out } = run(['grafana', 'lab', undefined, 'lab-whoami', '3000', false, undefined, false]);
    expect(await result).toBe(EXIT.ok);
    expect(readFileSync(siteFile, 'utf8')).toBe(original);
    expect(out.lines).toContain('Nothing written.');
    noTempLeft();
  });

  it('uses flags without asking, and names the flag whose value is invalid (exit 2)', async () => {
    const flags = { name: 'grafana', stage: 'lab', upstream: 'lab-whoami', port: '3000' };
    const bad = async (extra: Record<string, string>) => {
      const { result } = run([], { flags: { ...flags, ...extra }, yes: true, up: false, interactive: false });
      return result.then(
        () => undefined,
        (e: unknown) => e as HomeprodError,
      );
    };
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ hostname: 'whoami.lab.pegasuspad.com' }, /^--hostname: "whoami\.lab\.pegasuspad\.com" is already served by whoami-lab/],
      [{ hostname: 'grafana.example.org' }, /^--hostname: a lab hostname must be under lab\.pegasuspad\.com/],
      [{ stage: 'staging' }, /^--stage: "staging" is not one of lab, prod/],
      [{ upstream: 'prod-whoami' }, /^--upstream: host "prod-whoami" is in stage prod, the service in lab/],
      [{ upstream: 'nowhere' }, /^--upstream: "nowhere" is neither a lab host/],
      [{ port: '0' }, /^--port: "0" is not a port/],
      [{ name: 'whoami' }, /^--name: a service named "whoami" already exists/],
      [{ maxBodySize: '10 MB' }, /^--max-body-size: "10 MB" is not an nginx size/],
      [{ certificate: 'Lab/Apps' }, /^--certificate: "Lab\/Apps" is not a certificate name/],
    ];
    for (const [extra, message] of cases) {
      const error = await bad(extra);
      if (!(error instanceof HomeprodError)) throw new Error(`${JSON.stringify(extra)}: ${String(error)}`);
      expect(error!.message).toMatch(message);
      expect(error!.exitCode).toBe(EXIT.usage);
    }
    expect(readFileSync(siteFile, 'utf8')).toBe(original);

    // Valid flags are taken as they are; only what they leave open is asked.
    const { result, prompts, upCalls } = run([undefined, undefined, undefined], { flags, yes: true, up: true });
    expect(await result).toBe(EXIT.ok);
    expect(prompts.asked).toEqual(['Hostname', 'Pass websocket upgrades through?', 'Largest request body (nginx size)']);
    expect(loadSite(siteFile).services.map((s) => s.name)).toContain('grafana');
    expect(upCalls).toEqual([['--stage', 'lab', '--site', siteFile, '--yes']]);
  });

  it('without a terminal never asks: names every missing flag (exit 4) and needs --yes to write', async () => {
    const none = run([], { interactive: false, flags: { name: 'grafana' } });
    await expect(none.result).rejects.toMatchObject({ exitCode: EXIT.refused, message: 'no terminal to ask on: pass --stage, --upstream, --port' });

    const noYes = run([], { interactive: false, flags: { name: 'grafana', stage: 'lab', upstream: 'lab-whoami', port: '3000' } });
    await expect(noYes.result).rejects.toMatchObject({ exitCode: EXIT.refused, message: expect.stringContaining('pass --yes') });
    expect(noYes.out.lines).toContain('+  - name: grafana'); // the diff is still shown
    expect(readFileSync(siteFile, 'utf8')).toBe(original);
    noTempLeft();

    const ok = run([], { interactive: false, yes: true, flags: { name: 'grafana', stage: 'lab', upstream: 'lab-whoami', port: '3000' } });
    expect(await ok.result).toBe(EXIT.ok);
    expect(ok.prompts.asked).toEqual([]);
    expect(ok.upCalls).toEqual([]);
    expect(loadSite(siteFile).services.find((s) => s.name === 'grafana')?.hostnames).toEqual(['grafana.lab.pegasuspad.com']);
  });
});

describe('certificates in the wizard', () => {
  const flags = { name: 'grafana', stage: 'lab', upstream: 'lab-whoami', port: '3000', hostname: 'grafana.lab.pegasuspad.com', maxBodySize: '10m', websocket: false };

  it('takes --certificate, and the whole site must still validate (a certificate stays in one stage)', async () => {
    const ok = run([], { interactive: false, yes: true, flags: { ...flags, certificate: 'lab-apps' } });
    expect(await ok.result).toBe(EXIT.ok);
    expect(loadSite(siteFile).services.find((s) => s.name === 'grafana')?.certificate).toBe('lab-apps');

    const wrongStage = run([], { interactive: false, yes: true, flags: { ...flags, name: 'metrics', stage: 'prod', upstream: 'prod-whoami', hostname: 'metrics.pegasuspad.com', certificate: 'lab-apps' } });
    await expect(wrongStage.result).rejects.toMatchObject({ details: [expect.stringMatching(/services\[3\]\.certificate: certificate "lab-apps" also holds services\[2\] grafana of stage lab/)] });
  });

  it('asks for a certificate only where the stage already shares one, offering its own first', async () => {
    const plain = run([], { yes: true, up: false, flags });
    expect(await plain.result).toBe(EXIT.ok);
    expect(plain.prompts.asked).toEqual([]);
    expect(loadSite(siteFile).services.find((s) => s.name === 'grafana')?.certificate).toBe('grafana.lab.pegasuspad.com');

    const shareFirst = run([], { interactive: false, yes: true, flags: { ...flags, name: 'loki', hostname: 'loki.lab.pegasuspad.com', certificate: 'lab-apps' } });
    expect(await shareFirst.result).toBe(EXIT.ok);
    const third = run(['lab-apps'], { yes: true, up: false, flags: { ...flags, name: 'tempo', hostname: 'tempo.lab.pegasuspad.com' } });
    expect(await third.result).toBe(EXIT.ok);
    expect(third.prompts.asked).toEqual(['Certificate']);
    expect(loadSite(siteFile).services.filter((s) => s.certificate === 'lab-apps').map((s) => s.name)).toEqual(['loki', 'tempo']);
  });
});

describe('writeService: the whole site must validate first', () => {
  const answers: ServiceAnswers = { name: 'twin', stage: 'lab', hostname: 'whoami.lab.pegasuspad.com', upstream: { host: 'lab-whoami' }, port: 8080, websocket: false, maxBodySize: '10m' };

  it('writes nothing when the resulting site is invalid (duplicate hostname), naming the field in the site file', async () => {
    const out = captureOutput();
    const error = await writeService(answers, { siteFile, yes: true, interactive: false, prompts: scriptedPrompter([]), out }).then(() => undefined, (e: unknown) => e as HomeprodError);
    expect(error).toBeInstanceOf(HomeprodError);
    expect(error).toMatchObject({ exitCode: EXIT.failed });
    expect(error!.details.join('\n')).toMatch(/site\.yaml:\d+:\d+: services\[2\]\.hostnames\[0\]: duplicate service hostname "whoami\.lab\.pegasuspad\.com" \(also services\[1\] whoami-lab\)/);
    expect(error!.details.join('\n')).not.toContain('.tmp');
    expect(out.lines).toEqual([]); // no diff for a change that will not happen
    expect(readFileSync(siteFile, 'utf8')).toBe(original);
    noTempLeft();
  });

  it('writes nothing when the upstream host is in the other stage', async () => {
    const error = await writeService({ ...answers, hostname: 'twin.lab.pegasuspad.com', upstream: { host: 'prod-whoami' } }, { siteFile, yes: true, interactive: false, prompts: scriptedPrompter([]), out: captureOutput() }).then(() => undefined, (e: unknown) => e as HomeprodError);
    expect(error!.details.join('\n')).toContain('services[2].upstream.host: host "prod-whoami" is in stage prod, the service in lab');
    expect(readFileSync(siteFile, 'utf8')).toBe(original);
  });
});

describe('insertService', () => {
  const entry = { name: 'x', stage: 'lab', hostnames: ['x.lab.example.org'], upstream: { address: '10.0.0.1', port: 80 } };

  it('appends after the last item even when a comment and another section follow', () => {
    const text = ['# top', 'services:', '- name: a # first', '  hostnames: [ a.example.org ]', '  upstream: {host: h, port: 1}', '# trailing words', 'hosts: []', ''].join('\n');
    const result = insertService(text, entry);
    expect(result).toBe(
      ['# top', 'services:', '- name: a # first', '  hostnames: [ a.example.org ]', '  upstream: {host: h, port: 1}', '- name: x', '  stage: lab', '  hostnames: [ x.lab.example.org ]', '  upstream: {address: 10.0.0.1, port: 80}', '# trailing words', 'hosts: []', ''].join('\n'),
    );
  });

  it('adds a services list when there is none, and handles an empty flow list', () => {
    expect(insertService('domain: example.org # mine\n', entry)).toBe(
      'domain: example.org # mine\nservices:\n  - name: x\n    stage: lab\n    hostnames: [x.lab.example.org]\n    upstream: { address: 10.0.0.1, port: 80 }\n',
    );
    const fromEmpty = insertService('domain: example.org\nservices: []\n', entry);
    expect(fromEmpty).toContain('services:\n  - name: x\n');
  });

  it('refuses a services key that is not a list', () => {
    expect(() => insertService('services: nope\n', entry)).toThrow('`services` in the site file is not a list');
  });
});
