// Builds a bundle for one target: ranks the candidate bases by estimated patch size (signatures
// only), builds the patch against the best one (or the full image when nothing helps), proves it
// by rebuilding every carried layer, and only then writes the signed bundle atomically.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ManifestSigner, ManifestVerifier } from '../../core/bundle/format.js';
import { isRepoTag, type BundleEntry, type Manifest } from '../../core/bundle/manifest.js';
import { rankBases, type BaseCandidate } from '../../core/signature/estimate.js';
import { parseImageSignature } from '../../core/signature/schema.js';
import type { ImageSignature } from '../../core/signature/types.js';
import { diffImages, PatchFile } from '../delta/patch.js';
import { openSource } from '../image/transport.js';
import type { ImageSource } from '../image/types.js';
import { makeScratchDir } from '../scratch.js';
import { imageSignature } from './signature.js';
import { checkPatchMatches, proveRebuild } from './rebuild.js';
import { writeBundle } from './writer.js';

export interface BuildOptions {
  to: string;
  /** candidate bases whose bytes are at hand */
  from: string[];
  /** candidate bases known only by signature (what a device has): layers are reused by diffID */
  fromSignatures: string[];
  signer: ManifestSigner & { verifier: ManifestVerifier };
  out: string;
  version: number;
  creator: string;
  expires?: Date;
  /** the tag the device gets; default: the target's first repo tag */
  repoTag?: string;
  tmpDir?: string;
  /** also try the context-mixing coder on the patch's sections (io/delta/patch.ts) */
  dense?: boolean;
  /**
   * A patch already built (`lighter diff`) from the one `from` base, or from nothing, to the target:
   * sealed instead of diffing again, after the same checks and the same proving rebuild.
   */
  patch?: string;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
}

type Candidate = { ref: string; source: ImageSource } | { file: string } | null;

export interface BuildResult {
  manifest: Manifest;
  /** what the patch starts from: a ref, a signature file, or null for the full image */
  base: string | null;
  ranking: Array<{ base: string | null; estimate: number }>;
  /** the estimate of the base built against (from signatures), beside `bytes`, what it came to */
  estimate: number;
  bytes: number;
}

export async function buildBundle(opts: BuildOptions): Promise<BuildResult> {
  if (opts.expires && opts.expires.getTime() <= Date.now()) throw new Error(`the expiry ${opts.expires.toISOString()} has already passed`);
  if (opts.patch && (opts.from.length > 1 || opts.fromSignatures.length > 0 || opts.dense)) throw new Error('a prebuilt patch is sealed as it is, against the one base it was built from: give at most one --from, no --from-signature, no --dense');
  const opened: ImageSource[] = [];
  const open = async (ref: string) => {
    const s = await openSource(ref);
    opened.push(s);
    return s;
  };
  const tmp = await makeScratchDir('lighter-bundle-', opts.tmpDir);
  try {
    const target = await open(opts.to);
    const ti = await target.info();
    const repoTag = opts.repoTag ?? ti.repoTags[0];
    if (!repoTag || !isRepoTag(repoTag)) throw new Error(`${opts.to} has no usable repo:tag (${JSON.stringify(repoTag ?? null)}); pass --tag`);
    const targetSig = await imageSignature(target);

    const candidates: Array<BaseCandidate<Candidate>> = [{ key: null, bases: [] }];
    for (const ref of opts.from) {
      const source = await open(ref);
      candidates.push({ key: { ref, source }, bases: [await imageSignature(source)] });
    }
    for (const file of opts.fromSignatures) candidates.push({ key: { file }, bases: [await readSignature(file)] });
    const ranked = rankBases(candidates, targetSig);
    // a prebuilt patch fixes the base; otherwise the best estimate picks it
    const best = opts.patch ? ranked.find((r) => r.key !== null) ?? ranked[0]! : ranked[0]!;
    const name = (c: Candidate) => (c === null ? null : 'ref' in c ? c.ref : c.file);
    opts.log?.(`bases by estimated patch size: ${ranked.map((r) => `${name(r.key) ?? 'full image'} ${r.estimate}`).join(', ')}`);

    const baseSig: ImageSignature | null = best.bases[0] ?? null;
    const baseSource = best.key && 'ref' in best.key ? best.key.source : undefined;
    const patchPath = opts.patch ?? join(tmp, 'patch');
    if (!opts.patch) {
      await diffImages(baseSource, target, patchPath, {
        onProgress: opts.onProgress,
        knownDiffIDs: baseSig && best.key && 'file' in best.key ? baseSig.layers.map((l) => l.diffID) : [],
        tmpDir: tmp,
        dense: opts.dense === true,
      });
    }
    const patch = await PatchFile.open(patchPath);
    const patchBytes = (await fs.stat(patchPath)).size;
    const patchDigest = await fileDigest(patchPath);
    const entry: BundleEntry = {
      base: baseSig && { configDigest: baseSig.configDigest, diffIDs: baseSig.layers.map((l) => l.diffID) },
      target: { configDigest: ti.configDigest, layers: patch.header.layers.map((l) => ({ diffID: l.diffID, size: l.size })), repoTag },
      config: ti.configDigest,
      patch: patchDigest,
    };
    checkPatchMatches(patch, entry);
    await proveRebuild(patch, baseSource, tmp);

    const config = Buffer.from(ti.configBytes);
    const manifest = await writeBundle(
      opts.out,
      {
        version: opts.version,
        created: new Date(),
        ...(opts.expires ? { expires: opts.expires } : {}),
        creator: opts.creator,
        entries: [entry],
        parts: [
          { digest: ti.configDigest, length: config.length, open: () => Readable.from([config]) },
          { digest: patchDigest, length: patchBytes, open: () => createReadStream(patchPath) },
        ],
      },
      opts.signer,
    );
    return { manifest, base: name(best.key), ranking: ranked.map((r) => ({ base: name(r.key), estimate: r.estimate })), estimate: best.estimate, bytes: (await fs.stat(opts.out)).size };
  } finally {
    await Promise.all(opened.map((s) => s.close()));
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function readSignature(file: string): Promise<ImageSignature> {
  const stat = await fs.stat(file).catch(() => null);
  if (!stat?.isFile()) throw new Error(`signature file ${file} does not exist`);
  if (stat.size > 512 << 20) throw new Error(`signature file ${file} is ${stat.size} bytes, too large`);
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    throw new Error(`signature file ${file} is not JSON`);
  }
  return parseImageSignature(json, file);
}

async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}
