// `lighter inspect` and `lighter copy` as a pipeline runs them (compiled CLI, no TTY).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestImages, type TestImages } from './support/images.js';

let images: TestImages;
let work: string;
const lighter = (...args: string[]) => spawnSync('node', ['bin/lighter.js', ...args], { encoding: 'utf8' });

beforeAll(() => {
  images = buildTestImages();
  work = mkdtempSync(join(tmpdir(), 'lighter-cli-'));
});
afterAll(() => work && rmSync(work, { recursive: true, force: true }));

describe('lighter inspect / copy', () => {
  it('inspect prints config digest, diffIDs, layer sizes and tags as JSON', () => {
    const r = lighter('inspect', `docker-archive:${images.appV2.archive}`);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const docker = JSON.parse(spawnSync('docker', ['image', 'inspect', images.appV2.tag], { encoding: 'utf8' }).stdout)[0];
    expect(out.configDigest).toBe(docker.Id);
    expect(out.diffIDs).toEqual(docker.RootFS.Layers);
    expect(out.repoTags).toEqual([images.appV2.tag]);
    expect(out.layers.every((l: { size: number }) => l.size > 0)).toBe(true);
  });

  it('inspect --raw prints the manifest bytes', () => {
    const r = lighter('inspect', '--raw', `docker-archive:${images.appV2.archive}`);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.schemaVersion).toBe(2);
    const cfg = JSON.parse(lighter('inspect', `docker-archive:${images.appV2.archive}`).stdout).configDigest;
    expect(m.config.digest).toBe(cfg);
  });

  it('copy is quiet without a TTY and keeps the image identity', () => {
    const out = join(work, 'layout');
    const r = lighter('copy', `docker-archive:${images.appV2.archive}`, `oci:${out}:v2`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
    const raw = spawnSync('skopeo', ['inspect', '--config', '--raw', `oci:${out}:v2`]).stdout;
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(JSON.parse(lighter('inspect', `docker-archive:${images.appV2.archive}`).stdout).configDigest);
  });

  it('a failed copy exits 1 with a one-line reason and leaves nothing behind', () => {
    const dst = join(work, 'never.tar');
    const r = lighter('copy', `docker-archive:${join(work, 'missing.tar')}`, `docker-archive:${dst}`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^lighter copy: docker-archive:.*missing\.tar: no such file\n$/);
    expect(existsSync(dst)).toBe(false);
  });

  it('bad usage exits 2 with the usage text', () => {
    const r = lighter('copy', 'just-one');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^lighter copy: missing required argument 'DST'\n\nUsage: lighter copy \[options\] <SRC> <DST>/);
    const bad = lighter('inspect', 'not-a-ref');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/is not an image reference \(use docker-archive:PATH/);
  });
});
