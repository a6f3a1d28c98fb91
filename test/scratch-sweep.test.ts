// Issue 10, fault 5: scratch space lives under <data>/tmp, and what a killed run left there is swept
// by the next `lighter` command, while a live run's scratch stays untouched.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeScratchDir, processScratch, scratchRoot } from '../io/scratch.js';
import { buildTestImages, type TestImages } from './support/images.js';

const CLI = join(import.meta.dirname, '..', 'bin', 'lighter.js');

let images: TestImages;
let dir: string;
let data: string;
let osTmp: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  images = buildTestImages();
  dir = mkdtempSync(join(tmpdir(), 'lighter-scratch-test-'));
  data = join(dir, 'data');
  // the OS temp dir of the children: nothing of Lighter's may land there
  osTmp = join(dir, 'os-tmp');
  mkdirSync(osTmp);
  env = { ...process.env, LIGHTER_DATA_DIR: data, TMPDIR: osTmp };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every file below DIR (recursively), as paths relative to it. */
function filesBelow(d: string): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(d.length + 1));
}

/** Starts `lighter diff` and SIGKILLs it as soon as it has spooled a file anywhere; the files it left. */
async function killDiffMidRun(): Promise<{ inData: string[]; inOsTmp: string[] }> {
  const out = join(dir, `killed-${Date.now()}.patch`);
  const child = spawn('node', [CLI, 'diff', '--from', `docker-archive:${images.appV1.archive}`, '--to', `docker-archive:${images.appV2.archive}`, '-o', out], { env, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  while (!done && filesBelow(join(data, 'tmp')).length + filesBelow(osTmp).length === 0) await new Promise((r) => setTimeout(r, 5));
  expect(done, 'lighter diff was still running when it was killed').toBe(false);
  child.kill('SIGKILL');
  expect(await exited).toBe(null);
  expect(existsSync(out), 'no patch was written').toBe(false);
  return { inData: filesBelow(join(data, 'tmp')), inOsTmp: filesBelow(osTmp) };
}

describe('scratch space', () => {
  it('after kill -9 of lighter diff, the next lighter command leaves <data>/tmp empty of its files', async () => {
    const left = await killDiffMidRun();
    expect(left.inOsTmp, 'nothing in the OS temp dir').toEqual([]);
    expect(left.inData.length, 'the killed run spooled under <data>/tmp').toBeGreaterThan(0);
    const r = spawnSync('node', [CLI, 'inspect', `docker-archive:${images.appV1.archive}`], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(filesBelow(join(data, 'tmp')), 'the dead run left nothing').toEqual([]);
    expect(filesBelow(osTmp)).toEqual([]);
  });

  it("a sweep keeps a live run's scratch and takes a dead run's, also when its pid was reused", async () => {
    const root = scratchRoot(env);
    // this test process is a live run with a job in progress
    const live = await makeScratchDir('lighter-delta-', await processScratch(root));
    writeFileSync(join(live, 'base-0.tar'), 'spooled');
    const ours = readdirSync(root).find((n) => n.startsWith(`run-p${process.pid}-`))!;
    // a dead run whose pid is now ours (same pid, other start time), and one whose pid is gone
    const reused = ours.replace(/-s\d+-/, '-s1-');
    const gone = spawnSync('true').pid;
    for (const d of [reused, `run-p${gone}-s1-abcdef`]) {
      mkdirSync(join(root, d, 'lighter-bundle-x'), { recursive: true });
      writeFileSync(join(root, d, 'lighter-bundle-x', 'layer.tar'), 'left behind');
    }
    // one `lighter` command running alongside, another starting while it runs
    const other = spawnSync('node', [CLI, 'inspect', `docker-archive:${images.appV2.archive}`], { env, encoding: 'utf8' });
    expect(other.status, other.stderr).toBe(0);
    expect(readdirSync(root), 'only the live run remains').toEqual([ours]);
    expect(filesBelow(root)).toEqual([join(ours, live.slice(live.lastIndexOf('/') + 1), 'base-0.tar')]);
  });
});
