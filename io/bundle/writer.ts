// Writes a signed bundle: header, then every part streamed from its source, to a temp file that is
// re-opened and fully verified (signature, lengths, every part's sha256) before it is renamed into
// place. A failed or killed build leaves no bundle behind.
import { Readable } from 'node:stream';
import { encodeHeader, type ManifestSigner, type ManifestVerifier } from '../../core/bundle/format.js';
import { bundleIdInput, encodeManifest, type BundleEntry, type Manifest } from '../../core/bundle/manifest.js';
import { writeFileAtomic } from '../atomic-file.js';
import { sha256 } from '../digest.js';
import { openBundle } from './reader.js';

export interface PartSource {
  digest: string;
  length: number;
  open(): Readable;
}

export interface BundleContent {
  version: number;
  created: Date;
  expires?: Date;
  creator: string;
  entries: BundleEntry[];
  /** each part once, in the order they go into the file */
  parts: PartSource[];
}

export async function writeBundle(path: string, content: BundleContent, signer: ManifestSigner & { verifier: ManifestVerifier }): Promise<Manifest> {
  if (content.expires && content.expires <= content.created) throw new Error(`the bundle would expire (${content.expires.toISOString()}) before it is created`);
  const parts = content.parts.map((p) => ({ digest: p.digest, length: p.length }));
  const manifest: Manifest = {
    format: 1,
    id: sha256(bundleIdInput({ entries: content.entries, parts })),
    version: content.version,
    created: content.created.toISOString(),
    ...(content.expires ? { expires: content.expires.toISOString() } : {}),
    creator: content.creator,
    signer: signer.keyId,
    entries: content.entries,
    parts,
  };
  const header = encodeHeader(encodeManifest(manifest), signer);
  async function* bytes(): AsyncGenerator<Uint8Array> {
    yield header;
    for (const part of content.parts) yield* part.open();
  }
  await writeFileAtomic(path, Readable.from(bytes()), async (tmp) => {
    const written = await openBundle(tmp, signer.verifier);
    await written.verifyParts();
  });
  return manifest;
}
