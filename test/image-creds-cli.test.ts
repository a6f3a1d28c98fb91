// Registry credentials for `lighter inspect` and `lighter copy` (compiled CLI, no TTY) against a
// real docker-registry with token auth: from a file or the environment, never from argv, and the
// password in no output. The CLI runs asynchronously: the token server lives in this process.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestImages, type TestImages } from './support/images.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

const PASSWORD = 'creds-cli-Secret-91c';
let images: TestImages;
let work: string;
let acr: TestRegistry & { tokenRequests: string[] };

/** Runs bin/lighter.js without the caller's registry variables, with ENV and STDIN. */
function lighter(args: string[], env: Record<string, string> = {}, stdin = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^LIGHTER_(REGISTRY|SRC|DEST)_CREDS$/.test(k)));
  const child = spawn('node', ['bin/lighter.js', ...args], { env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

function credsFile(name: string, text: string, mode = 0o600): string {
  const f = join(work, name);
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
}

beforeAll(async () => {
  images = buildTestImages();
  work = mkdtempSync(join(tmpdir(), 'lighter-creds-cli-'));
  acr = await startRegistry({ tokenUsers: { ci: PASSWORD } });
});
afterAll(async () => {
  await acr?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('lighter copy / inspect: registry credentials', () => {
  it('from a file (owner-only) and from the environment: copy in, across repositories, inspect', async () => {
    const file = credsFile('ci.creds', `ci:${PASSWORD}\n`);
    const push = await lighter(['copy', '--dest-creds-file', file, `docker-archive:${images.appV1.archive}`, `docker://${acr.host}/creds/app:1`]);
    expect(push.status, push.stderr).toBe(0);
    const across = await lighter(['copy', `docker://${acr.host}/creds/app:1`, `docker://${acr.host}/creds/other:1`], { LIGHTER_SRC_CREDS: `ci:${PASSWORD}`, LIGHTER_DEST_CREDS: `ci:${PASSWORD}` });
    expect(across.status, across.stderr).toBe(0);
    const fromEnv = await lighter(['inspect', `docker://${acr.host}/creds/other:1`], { LIGHTER_REGISTRY_CREDS: `ci:${PASSWORD}` });
    expect(fromEnv.status, fromEnv.stderr).toBe(0);
    const fromStdin = await lighter(['inspect', '--creds-file', '-', `docker://${acr.host}/creds/app:1`], {}, `ci:${PASSWORD}\n`);
    expect(fromStdin.status, fromStdin.stderr).toBe(0);
    const local = await lighter(['inspect', `docker-archive:${images.appV1.archive}`]);
    expect(JSON.parse(fromEnv.stdout).configDigest).toBe(JSON.parse(local.stdout).configDigest);
    expect(JSON.parse(fromStdin.stdout).configDigest).toBe(JSON.parse(local.stdout).configDigest);
    for (const r of [push, across, fromEnv, fromStdin]) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('USER:PASS on the command line exits 2 naming the flag and where credentials go now', async () => {
    const cases: Array<[string[], string, string]> = [
      [['inspect', '--creds', `ci:${PASSWORD}`, `docker://${acr.host}/creds/app:1`], '--creds', 'LIGHTER_REGISTRY_CREDS'],
      [['copy', '--src-creds', `ci:${PASSWORD}`, `docker://${acr.host}/creds/app:1`, `oci:${join(work, 'never')}`], '--src-creds', 'LIGHTER_SRC_CREDS'],
      [['copy', '--dest-creds', `ci:${PASSWORD}`, `docker-archive:${images.appV1.archive}`, `docker://${acr.host}/creds/never:1`], '--dest-creds', 'LIGHTER_DEST_CREDS'],
    ];
    const before = acr.tokenRequests.length;
    for (const [args, flag, env] of cases) {
      const r = await lighter(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${flag} is no longer accepted`);
      expect(r.stderr).toContain(`${flag}-file FILE`);
      expect(r.stderr).toContain(`$${env}`);
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    }
    expect(acr.tokenRequests.length, 'nothing was sent to the registry').toBe(before);
    const help = await lighter(['copy', '--help']);
    expect(help.stdout).toContain('--src-creds-file');
    expect(help.stdout).not.toMatch(/--src-creds </);
  });

  it('a file others can read, or one without USER:PASSWORD, exits 2 without its contents', async () => {
    const open = credsFile('open.creds', `ci:${PASSWORD}\n`, 0o644);
    const r = await lighter(['inspect', '--creds-file', open, `docker://${acr.host}/creds/app:1`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/its mode is 644; .*readable by its owner only \(chmod 600/);
    const garbled = credsFile('garbled.creds', PASSWORD);
    const g = await lighter(['inspect', '--creds-file', garbled, `docker://${acr.host}/creds/app:1`]);
    expect(g.status).toBe(2);
    expect(g.stderr).toContain('does not hold one line USER:PASSWORD');
    for (const x of [r, g]) expect(x.stdout + x.stderr).not.toContain(PASSWORD);
  });

  it('rejected credentials and credentials in the reference: exit 1, the password in no output (not even with LIGHTER_DEBUG)', async () => {
    const wrong = `${PASSWORD}-wrong`;
    const r = await lighter(['copy', `docker-archive:${images.appV1.archive}`, `docker://${acr.host}/creds/denied:1`], { LIGHTER_DEST_CREDS: `ci:${wrong}`, LIGHTER_DEBUG: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/token endpoint 127\.0\.0\.1:\d+ answered 401 \(credentials rejected\)/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(r.stdout + r.stderr).not.toContain(Buffer.from(`ci:${wrong}`).toString('base64'));
    const inRef = await lighter(['inspect', '--json', `docker://ci:${PASSWORD}@${acr.host}/creds/app:1`], { LIGHTER_DEBUG: '1' });
    expect(inRef.status).toBe(1);
    expect(inRef.stderr).toContain('carries no credentials');
    expect(inRef.stdout + inRef.stderr).not.toContain(PASSWORD);
  });
});
