// Acceptance of issue 4 (crash safety): `lighter bundle apply` is SIGKILLed at random points, again
// and again. After every kill the destination holds either no image or exactly the target (read by
// skopeo), the state dir's record is whole; runs that are let finish complete, and resume from the
// layers an earlier run rebuilt. LIGHTER_SOAK_CYCLES raises the count (scripts/soak-apply.sh).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../io/bundle/build.js';
import { generateKeys, loadSigner } from '../io/keys.js';
import { buildTestImages, type TestImages } from './support/images.js';

const CLI = join(import.meta.dirname, '..', 'bin', 'lighter.js');
const CYCLES = Number(process.env.LIGHTER_SOAK_CYCLES ?? 50);

let images: TestImages;
let dir: string;
let bundle: string;
let pub: string;
let target: { configDigest: string; diffIDs: string[] };

function view(archive: string): { configDigest: string; diffIDs: string[] } {
  const raw = execFileSync('skopeo', ['inspect', '--config', '--raw', `docker-archive:${archive}`]);
  const config = JSON.parse(raw.toString()) as { rootfs: { diff_ids: string[] } };
  return { configDigest: `sha256:${createHash('sha256').update(raw).digest('hex')}`, diffIDs: config.rootfs.diff_ids };
}

function applyArgs(dest: string, state: string): string[] {
  return [CLI, 'bundle', 'apply', bundle, '--from', `docker-archive:${images.appV1.archive}`, '--to', `docker-archive:${dest}`, '--pubkey', pub, '--state', state];
}

/** Runs apply and SIGKILLs it after `ms`; resolves with its exit status (null when killed). */
function applyKilledAfter(dest: string, state: string, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn('node', applyArgs(dest, state), { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function applyToEnd(dest: string, state: string): string {
  const r = spawnSync('node', applyArgs(dest, state), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`apply after a kill failed: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  images = buildTestImages();
  dir = mkdtempSync(join(tmpdir(), 'lighter-bundle-kill-'));
  const keys = await generateKeys(join(dir, 'keys'));
  pub = keys.publicKey;
  bundle = join(dir, 'app.bundle');
  await buildBundle({ to: `docker-archive:${images.appV2.archive}`, from: [`docker-archive:${images.appV1.archive}`], fromSignatures: [], signer: await loadSigner(keys.privateKey), out: bundle, version: 7, creator: 'test' });
  target = view(images.appV2.archive);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('kill -9 during apply', () => {
  it('resumes from the layers an interrupted run rebuilt, without rebuilding them', () => {
    // The first run rebuilds, then fails at the destination (its directory does not exist).
    const state = join(dir, 'resume-state');
    const r = spawnSync('node', applyArgs(join(dir, 'missing-dir', 'dest.tar'), state), { encoding: 'utf8' });
    expect(r.status).toBe(1);
    const work = join(state, 'work');
    expect(readdirSync(work)).toHaveLength(1);
    expect(readdirSync(join(work, readdirSync(work)[0]!)).filter((n) => n.endsWith('.tar')).length).toBeGreaterThan(0);
    const out = applyToEnd(join(dir, 'resumed.tar'), state);
    expect(out).toMatch(/\(0 layers rebuilt, [1-9]\d* resumed\)/);
    expect(view(join(dir, 'resumed.tar'))).toEqual(target);
  });

  it('refuses a rebuilt layer changed in the work area since it was rebuilt, naming it, with no image', () => {
    const state = join(dir, 'tampered-state');
    expect(spawnSync('node', applyArgs(join(dir, 'missing-dir', 'dest.tar'), state), { encoding: 'utf8' }).status).toBe(1);
    const work = join(state, 'work', readdirSync(join(state, 'work'))[0]!);
    const layer = join(work, readdirSync(work).find((n) => n.endsWith('.tar'))!);
    const bytes = readFileSync(layer);
    bytes[bytes.length >> 1]! ^= 0x20;
    writeFileSync(layer, bytes);
    const dest = join(dir, 'tampered.tar');
    const r = spawnSync('node', applyArgs(dest, state), { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/digest mismatch for rebuilt layer sha256:[0-9a-f]{64}/);
    expect(existsSync(dest)).toBe(false);
  });

  it(`leaves no image or exactly the target, and the next apply completes (${CYCLES} kills)`, { timeout: 60_000 + CYCLES * 8_000 }, async () => {
    // How long a whole apply takes here, so kills land anywhere in it.
    const probe = join(dir, 'probe');
    const t0 = Date.now();
    applyToEnd(join(probe, 'dest.tar'), join(probe, 'state'));
    const whole = Date.now() - t0;

    const dest = join(dir, 'dest.tar');
    const state = join(dir, 'state');
    let killed = 0;
    // Until CYCLES runs were really killed (a kill that comes after the run finished does not count).
    for (let cycle = 0; killed < CYCLES && cycle < CYCLES * 3; cycle++) {
      const code = await applyKilledAfter(dest, state, Math.random() * whole * 1.1);
      if (code === null) killed++;
      // Visible results: the archive, or nothing. Temp files are hidden and swept by the next run.
      const visible = readdirSync(dir).filter((n) => n.startsWith('dest'));
      expect(visible.length === 0 || (visible.length === 1 && visible[0] === 'dest.tar'), `cycle ${cycle}: ${visible.join(', ')}`).toBe(true);
      if (existsSync(dest)) {
        expect(view(dest), `cycle ${cycle}`).toEqual(target);
        rmSync(dest); // so the next cycles exercise the way to a new image again
      }
      if (existsSync(join(state, 'applied.json'))) expect(JSON.parse(readFileSync(join(state, 'applied.json'), 'utf8'))).toMatchObject({ version: 7 });
      if (cycle % 5 === 4) {
        applyToEnd(dest, state);
        expect(view(dest), `completion after cycle ${cycle}`).toEqual(target);
        rmSync(dest);
      }
    }
    expect(killed).toBe(CYCLES);
    applyToEnd(dest, state);
    expect(view(dest)).toEqual(target);
    // a finished apply clears its work area
    expect(readdirSync(join(state, 'work'))).toEqual([]);
  });
});
