// The CLI's own contract, as a pipeline sees it: --version, usage errors (exit 2, naming the
// culprit, usage printed once), a distinct documented status per bundle refusal, and a quiet end
// when the reader of its output goes away.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_EXIT, EXIT_CLOSED_PIPE } from '../main/cli/exit-status.js';
import { buildTestImages, type TestImages } from './support/images.js';

let images: TestImages;
let work: string;
const lighter = (...args: string[]) => spawnSync(process.execPath, ['bin/lighter.js', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', LIGHTER_DATA_DIR: join(work, 'data') } });

/**
 * Runs lighter with the read end of its `closed` stream shut before it has written anything (as
 * `head` or `grep -q` that have seen enough): its status and what it wrote on the other stream.
 */
function withClosedPipe(closed: 'stdout' | 'stderr', ...args: string[]): Promise<{ status: number | null; other: string }> {
  const child = spawn(process.execPath, ['bin/lighter.js', ...args], { env: { ...process.env, CI: 'true', LIGHTER_DATA_DIR: join(work, 'data') } });
  child[closed].destroy();
  let other = '';
  child[closed === 'stdout' ? 'stderr' : 'stdout'].setEncoding('utf8').on('data', (text: string) => (other += text));
  return new Promise((resolve, reject) => child.on('error', reject).on('close', (status) => resolve({ status, other })));
}

beforeAll(() => {
  images = buildTestImages();
  work = mkdtempSync(join(tmpdir(), 'lighter-cli-contract-'));
});
afterAll(() => work && rmSync(work, { recursive: true, force: true }));

describe('lighter usage', () => {
  it('--version prints the package version', () => {
    const r = lighter('--version');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync('package.json', 'utf8')).version}\n`);
  });

  it('an unknown command, option or argument count exits 2, names the culprit and prints usage once', () => {
    const cases: Array<[string[], RegExp, string]> = [
      [['frobnicate'], /^lighter: unknown command 'frobnicate'/, 'Usage: lighter [options] [command]'],
      [['copy', '--bogus', 'x', 'y'], /^lighter copy: unknown option '--bogus'/, 'Usage: lighter copy [options] <SRC> <DST>'],
      [['copy', 'just-one'], /^lighter copy: missing required argument 'DST'/, 'Usage: lighter copy'],
      [['inspect', 'a', 'b'], /^lighter inspect: too many arguments/, 'Usage: lighter inspect'],
      [['bundle', 'verify', 'f.bundle'], /^lighter bundle verify: required option '--pubkey <KEY>' not specified/, 'Usage: lighter bundle verify'],
      [['copy', 'a', 'b', '--archive-layout', 'zip'], /^lighter copy: option '--archive-layout <LAYOUT>' argument 'zip' is invalid/, 'Usage: lighter copy'],
      [['bundle', 'build', '--to', 'x', '--key', 'k', '-o', 'o', '--version', 'soon'], /^lighter bundle build: --version must be a positive whole number, not "soon"/, 'Usage: lighter bundle build'],
    ];
    for (const [args, culprit, usage] of cases) {
      const r = lighter(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(culprit);
      expect(r.stderr.split(usage).length - 1, `${args.join(' ')}: usage once`).toBe(1);
    }
  });

  it('--help prints usage on stdout and exits 0; the top level lists the exit statuses', () => {
    const top = lighter('--help');
    expect(top.status).toBe(0);
    expect(top.stdout).toContain(`${BUNDLE_EXIT['part-digest']}  bundle refused: part-digest`);
    const verify = lighter('bundle', 'verify', '--help');
    expect(verify.status).toBe(0);
    expect(verify.stdout).toMatch(/^Usage: lighter bundle verify \[options\] <FILE>\n/);
    expect(verify.stdout).toContain('--pubkey <KEY>');
  });
});

describe('lighter with its output closed early', () => {
  it('ends quietly with the closed-pipe status, for help, results and errors alike', async () => {
    const cases: Array<['stdout' | 'stderr', string[]]> = [
      ['stdout', ['--help']], // commander's own output
      ['stdout', ['keys', 'generate', '-o', join(work, 'pipe-keys'), '--json']], // a command's result
      ['stdout', ['edge', '--help']], // the edge module's program, which bin/lighter.js runs too
      ['stderr', ['frobnicate']], // a usage error
    ];
    for (const [closed, args] of cases) {
      const r = await withClosedPipe(closed, ...args);
      expect(r, `${args.join(' ')} with ${closed} closed`).toEqual({ status: EXIT_CLOSED_PIPE, other: '' });
    }
  });
});

describe('lighter bundle verify', () => {
  // A first-image bundle build is most of this test: 75-86 s on the shared 2-core machine at load 22.
  it('exits with distinct documented statuses for a tampered and a truncated bundle', { timeout: 300_000 }, () => {
    expect(lighter('keys', 'generate', '-o', join(work, 'keys')).status).toBe(0);
    const good = join(work, 'good.bundle');
    const pub = join(work, 'keys', 'lighter-bundle.pub');
    const built = lighter('bundle', 'build', '--to', `docker-archive:${images.appV1.archive}`, '--key', join(work, 'keys', 'lighter-bundle.key'), '-o', good, '--version', '5', '--json');
    expect(built.status, built.stderr).toBe(0);
    expect(JSON.parse(built.stdout)).toMatchObject({ file: good, base: null });
    const ok = lighter('bundle', 'verify', good, '--pubkey', pub, '--json');
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).parts).toBeGreaterThan(0);

    const bytes = readFileSync(good);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 10]! ^= 0xff; // inside the last part: its digest no longer matches
    writeFileSync(join(work, 'tampered.bundle'), tampered);
    writeFileSync(join(work, 'truncated.bundle'), bytes.subarray(0, bytes.length - 10));

    const t = lighter('bundle', 'verify', join(work, 'tampered.bundle'), '--pubkey', pub);
    expect(t.stderr).toMatch(/^lighter bundle verify: bundle rejected \(part-digest\)/);
    expect(t.status).toBe(BUNDLE_EXIT['part-digest']);
    const s = lighter('bundle', 'verify', join(work, 'truncated.bundle'), '--pubkey', pub);
    expect(s.stderr).toMatch(/^lighter bundle verify: bundle rejected \(truncated\)/);
    expect(s.status).toBe(BUNDLE_EXIT.truncated);
    expect(t.status).not.toBe(s.status);
    expect([t.stdout, s.stdout]).toEqual(['', '']);
  });
});
