// Real images for tests, built by the running dockerd: a base imported from a generated rootfs and
// two versions of an "app" built on it with COPY-only Dockerfiles, saved as docker-save archives.
// Built once per machine (cached by tag in the OS temp dir, guarded by a lock so parallel test
// files wait for one build) and reused by every test file that calls buildTestImages().
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Bump when the generated content changes, so stale caches are not reused. */
const VERSION = 1;
const CACHE = join(tmpdir(), `lighter-test-images-v${VERSION}`);
const FIXED_TIME = new Date('2024-01-01T00:00:00Z');

export interface TestImage {
  /** Docker tag, e.g. lighter-test/app:v1 (present in the engine) */
  tag: string;
  /** `docker save` archive (legacy layout) */
  archive: string;
}

export interface TestImages {
  /** one layer: the imported rootfs (~4 MB) */
  base: TestImage;
  /** base + /app (v1) + /etc/app */
  appV1: TestImage;
  /** base + /app (v2: some files changed, some added, some removed) + the same /etc/app layer as v1 */
  appV2: TestImage;
}

/** Deterministic pseudo-random bytes (xorshift), so fixtures are the same on every machine. */
export function pseudoRandom(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed | 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, Math.min(i, size - 4));
  }
  return b;
}

/** Binary-ish content: mostly structured records with some noise, like an executable or a database. */
function binaryish(seed: number, size: number): Buffer {
  const noise = pseudoRandom(seed, size);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = i % 64 < 40 ? (i >> 6) & 0xff : noise[i]!;
  return b;
}

function write(root: string, rel: string, data: Buffer | string, mode = 0o644): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, data, { mode });
}

function fixTimes(root: string): void {
  execFileSync('find', [root, '-exec', 'touch', '-h', '-d', FIXED_TIME.toISOString(), '{}', '+']);
  utimesSync(root, FIXED_TIME, FIXED_TIME);
}

function makeRootfs(dir: string): void {
  write(dir, 'etc/os-release', 'NAME="Lighter Test OS"\nVERSION_ID="1"\n');
  write(dir, 'etc/hostname', 'lighter\n');
  write(dir, 'usr/bin/tool', binaryish(1, 1 << 20), 0o755);
  write(dir, 'usr/lib/libdata.so.1', binaryish(2, 2 << 20));
  write(dir, 'usr/share/random.bin', pseudoRandom(3, 512 << 10));
  for (let i = 0; i < 40; i++) write(dir, `usr/share/doc/pkg${i}/README`, `package ${i}\n`.repeat(50 + i));
  symlinkSync('libdata.so.1', join(dir, 'usr/lib/libdata.so'));
  mkdirSync(join(dir, 'tmp'), { mode: 0o1777 });
}

function makeApp(dir: string, version: 1 | 2): void {
  const app = join(dir, 'app');
  write(app, 'server.bin', version === 1 ? binaryish(10, 1536 << 10) : patched(binaryish(10, 1536 << 10)), 0o755);
  write(app, 'assets/model.dat', pseudoRandom(11, 768 << 10));
  write(app, 'VERSION', `${version}.0.0\n`);
  if (version === 1) write(app, 'legacy/old-plugin.so', binaryish(12, 256 << 10));
  else write(app, 'plugins/new-plugin.so', binaryish(13, 300 << 10));
  const conf = join(dir, 'conf');
  write(conf, 'app.conf', 'listen = 0.0.0.0:8080\nlog = info\n');
  write(conf, 'certs/ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  fixTimes(dir);
}

/** A small edit in the middle of a binary, as a rebuild would make. */
function patched(b: Buffer): Buffer {
  const out = Buffer.from(b);
  out.write('lighter v2 build', 700_000);
  for (let i = 900_000; i < 900_000 + 4096; i++) out[i] = (out[i]! + 7) & 0xff;
  return out;
}

function docker(args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
}

function hasImage(tag: string): boolean {
  try {
    docker(['image', 'inspect', tag]);
    return true;
  } catch {
    return false;
  }
}

function save(tag: string, archive: string): void {
  const tmp = `${archive}.partial`;
  docker(['save', '-o', tmp, tag]);
  renameSync(tmp, archive);
}

function withLock<T>(fn: () => T): T {
  const lock = join(CACHE, '.lock');
  mkdirSync(CACHE, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // a lock older than 10 minutes belongs to a killed process
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      execFileSync('sleep', ['0.5']);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function build(tag: string, from: string, context: string): void {
  writeFileSync(join(context, 'Dockerfile'), `FROM ${from}\nCOPY app/ /app/\nCOPY conf/ /etc/app/\n`);
  docker(['build', '-q', '-t', tag, context], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
}

/** Builds (or reuses) the test images and their archives. Synchronous so it can run in beforeAll cheaply. */
export function buildTestImages(): TestImages {
  const images: TestImages = {
    base: { tag: `lighter-test/base:v${VERSION}`, archive: join(CACHE, 'base.tar') },
    appV1: { tag: `lighter-test/app:v1-${VERSION}`, archive: join(CACHE, 'app-v1.tar') },
    appV2: { tag: `lighter-test/app:v2-${VERSION}`, archive: join(CACHE, 'app-v2.tar') },
  };
  const ready = () => Object.values(images).every((i: TestImage) => existsSync(i.archive) && hasImage(i.tag));
  if (ready()) return images;
  return withLock(() => {
    if (ready()) return images;
    const work = mkdtempSync(join(tmpdir(), 'lighter-test-build-'));
    try {
      if (!hasImage(images.base.tag)) {
        const rootfs = join(work, 'rootfs');
        makeRootfs(rootfs);
        fixTimes(rootfs);
        const tar = execFileSync('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], { maxBuffer: 256 << 20 });
        docker(['import', '--change', 'CMD ["/usr/bin/tool"]', '-', images.base.tag], { input: tar });
      }
      for (const [img, version] of [
        [images.appV1, 1],
        [images.appV2, 2],
      ] as const) {
        if (hasImage(img.tag)) continue;
        const ctx = join(work, `app${version}`);
        makeApp(ctx, version);
        build(img.tag, images.base.tag, ctx);
      }
      for (const img of Object.values(images) as TestImage[]) save(img.tag, img.archive);
      return images;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/**
 * The OCI-layout form of `docker save` that Docker 25+ writes (oci-layout, index.json,
 * blobs/sha256/* with uncompressed layers and the config bytes unchanged, and a manifest.json whose
 * Config and Layers point into blobs/), assembled independently of Lighter from skopeo's `dir:`
 * copy of the legacy archive.
 */
export function buildOciFormArchive(source: TestImage, name = `oci-form-${source.tag.replace(/[/:]/g, '_')}.tar`): string {
  const out = join(CACHE, name);
  if (existsSync(out)) return out;
  return withLock(() => {
    if (existsSync(out)) return out;
    const work = mkdtempSync(join(tmpdir(), 'lighter-test-ociform-'));
    try {
      const dir = join(work, 'dir');
      execFileSync('skopeo', ['copy', '-q', '--dest-decompress', `docker-archive:${source.archive}`, `dir:${dir}`]);
      const v2s2 = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
      const layout = join(work, 'layout');
      mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
      const blob = (d: string) => `blobs/sha256/${d.slice(7)}`;
      for (const d of [v2s2.config, ...v2s2.layers]) renameSync(join(dir, d.digest.slice(7)), join(layout, blob(d.digest)));
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: v2s2.config.digest, size: v2s2.config.size },
        layers: v2s2.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
      });
      const mDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
      writeFileSync(join(layout, blob(mDigest)), manifest);
      const tag = source.tag.slice(source.tag.lastIndexOf(':') + 1);
      writeFileSync(
        join(layout, 'index.json'),
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: mDigest, size: manifest.length, annotations: { 'io.containerd.image.name': `docker.io/${source.tag}`, 'org.opencontainers.image.ref.name': tag } }],
        }),
      );
      writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      writeFileSync(join(layout, 'manifest.json'), JSON.stringify([{ Config: blob(v2s2.config.digest), RepoTags: [source.tag], Layers: v2s2.layers.map((l) => blob(l.digest)) }]));
      execFileSync('tar', ['-C', layout, '--numeric-owner', '--owner=0', '--group=0', '-cf', `${out}.partial`, 'blobs', 'index.json', 'manifest.json', 'oci-layout']);
      renameSync(`${out}.partial`, out);
      return out;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/** sha256 of a file, "sha256:<hex>" (for tests comparing what tools produced). */
export function fileDigest(path: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}
