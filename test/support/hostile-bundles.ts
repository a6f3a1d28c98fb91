// Hostile bundles a trusted signer could still make (signed, well-formed, dangerous inside): layers
// whose entries escape the destination and patches that expand past what they declare. Shared by
// the bundle tests (apply refuses them) and the edge inbox tests (the module quarantines them).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { encodeHeader } from '../../core/bundle/format.js';
import { bundleIdInput, encodeManifest, type BundleEntry, type Manifest } from '../../core/bundle/manifest.js';
import { writeBundle } from '../../io/bundle/writer.js';
import { sha256 } from '../../io/digest.js';
import { diffImages } from '../../io/delta/patch.js';
import { openSource } from '../../io/image/transport.js';
import type { loadSigner } from '../../io/keys.js';

type Signer = Awaited<ReturnType<typeof loadSigner>>;

export type HostileEntry = Partial<Header> & { name: string; body?: string };

/** The layer entries that try to escape: .., absolute paths, a symlink and a hardlink out. */
export const ESCAPES: Array<[string, HostileEntry[]]> = [
  ['dotdot', [{ name: '../../evil', body: 'x' }]],
  ['absolute', [{ name: '/tmp/evil', body: 'x' }]],
  ['symlink', [{ name: 'link', type: 'symlink', linkname: '/tmp' }, { name: 'link/evil', body: 'x' }]],
  ['hardlink', [{ name: 'hard', type: 'link', linkname: '../../../etc/passwd' }]],
];

/** A docker-archive holding one layer made of `entries`, for escape attempts. */
export async function hostileArchive(path: string, entries: HostileEntry[]): Promise<void> {
  const p = pack();
  for (const { body, ...h } of entries) p.entry({ mode: 0o644, mtime: new Date(0), ...h } as Header, body ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as Readable) chunks.push(c as Buffer);
  const layer = Buffer.concat(chunks);
  const diffID = sha256(layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffID] } }));
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const outer = pack();
  outer.entry({ name: configName }, config);
  outer.entry({ name: 'layer/layer.tar' }, layer);
  outer.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: configName, RepoTags: ['evil/app:1'], Layers: ['layer/layer.tar'] }]));
  outer.finalize();
  const all: Buffer[] = [];
  for await (const c of outer as unknown as Readable) all.push(c as Buffer);
  writeFileSync(path, Buffer.concat(all));
}

/** A full-image bundle for `archive`, built without the build command's own safety scan. */
export async function bundleWithoutScan(archive: string, version: number, signer: Signer, repoTag = 'evil/app:1'): Promise<Buffer> {
  const target = await openSource(`docker-archive:${archive}`);
  try {
    const ti = await target.info();
    const patchPath = `${archive}.patch`;
    const header = await diffImages(undefined, target, patchPath);
    const patchBytes = readFileSync(patchPath);
    const entry: BundleEntry = {
      base: null,
      target: { configDigest: ti.configDigest, layers: header.layers.map((l) => ({ diffID: l.diffID, size: l.size })), repoTag },
      config: ti.configDigest,
      patch: sha256(patchBytes),
    };
    const out = `${archive}.bundle`;
    const config = Buffer.from(ti.configBytes);
    await writeBundle(out, { version, created: new Date(), creator: 'test', entries: [entry], parts: [{ digest: ti.configDigest, length: config.length, open: () => Readable.from([config]) }, { digest: entry.patch, length: patchBytes.length, open: () => Readable.from([patchBytes]) }] }, signer);
    return readFileSync(out);
  } finally {
    await target.close();
  }
}

/** The parts of a bundle (after its header), split as its manifest lists them. */
export function partsOf(bytes: Buffer, m: Manifest): Buffer[] {
  let at = bytes.length - m.parts.reduce((n, p) => n + p.length, 0);
  return m.parts.map((p) => bytes.subarray(at, (at += p.length)));
}

/**
 * Two decompression bombs made from a good delta bundle (config, patch), re-signed: `layer`, a
 * rebuilt layer declared as 1 KiB that really is megabytes; `header`, a patch header of a few KiB
 * of brotli expanding to 256 MiB (the engine caps headers at 16 MiB).
 */
export async function decompressionBombs(good: Buffer, goodManifest: Manifest, signer: Signer, version = goodManifest.version): Promise<{ layer: Buffer; header: Buffer }> {
  // The patch framing (docs/patch-format.md): magic, version, header length, brotli JSON header,
  // its sha256, then the layer sections.
  const parts = partsOf(good, goodManifest);
  const original = parts[1]!;
  const headerLen = original.readUInt32BE(12);
  const reframe = (header: Buffer, sections: Buffer) => {
    const prefix = Buffer.from(original.subarray(0, 16));
    prefix.writeUInt32BE(header.length, 12);
    return Buffer.concat([prefix, header, createHash('sha256').update(header).digest(), sections]);
  };
  const signedWith = async (patch: Buffer, layerSize?: { index: number; size: number }) => {
    const m: Manifest = {
      ...goodManifest,
      version,
      entries: goodManifest.entries.map((e) => ({
        ...e,
        patch: sha256(patch),
        target: { ...e.target, layers: e.target.layers.map((l, n) => (n === layerSize?.index ? { ...l, size: layerSize.size } : l)) },
      })),
      parts: [goodManifest.parts[0]!, { digest: sha256(patch), length: patch.length }],
    };
    return Buffer.concat([encodeHeader(encodeManifest({ ...m, id: sha256(bundleIdInput(m)) }), signer), parts[0]!, patch]);
  };
  const sections = original.subarray(16 + headerLen + 32);
  const header = JSON.parse(brotliDecompressSync(original.subarray(16, 16 + headerLen)).toString()) as { layers: Array<{ from: string; size: number }> };
  const i = header.layers.findIndex((l) => l.from === 'patch');
  const small = { ...header, layers: header.layers.map((l, n) => (n === i ? { ...l, size: 1024 } : l)) };
  const bombHeader = brotliCompressSync(Buffer.alloc(256 << 20, 0x20), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } });
  if (bombHeader.length >= 1 << 20) throw new Error(`the header bomb is ${bombHeader.length} bytes, not a few KiB`);
  return { layer: await signedWith(reframe(brotliCompressSync(Buffer.from(JSON.stringify(small))), sections), { index: i, size: 1024 }), header: await signedWith(reframe(bombHeader, sections)) };
}
