import { describe, expect, it } from 'vitest';
import { buildManifest, parseConfig, parseManifestOrIndex, selectPlatform } from './manifest.js';
import { MediaType, sniffCompression } from './media-types.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('manifests', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: D('c'), size: 10 },
    layers: [{ mediaType: MediaType.dockerLayerGzip, digest: D('1'), size: 5 }],
  };

  it('parses a Docker v2s2 manifest and an OCI index by their media types', () => {
    const m = parseManifestOrIndex(enc(manifest));
    expect(m).toMatchObject({ kind: 'manifest', mediaType: MediaType.dockerManifest, config: { digest: D('c') } });
    const ix = parseManifestOrIndex(enc({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ociManifest, digest: D('a'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }] }));
    expect(ix.kind).toBe('index');
  });

  it('says what is wrong with a bad manifest', () => {
    expect(() => parseManifestOrIndex(new TextEncoder().encode('{'))).toThrow(/manifest is not valid JSON/);
    expect(() => parseManifestOrIndex(enc({ ...manifest, layers: [{ ...manifest.layers[0], digest: 'md5:1' }] }))).toThrow(/layers\.0\.digest: not a sha256/);
    expect(() => parseManifestOrIndex(enc({ ...manifest, layers: [{ ...manifest.layers[0], mediaType: 'text/plain' }] }))).toThrow(/layer 0: unsupported layer media type/);
    expect(() => parseManifestOrIndex(enc({ ...manifest, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }))).toThrow(/schema 1/);
  });

  it('picks linux/amd64 from an index unless asked for another platform', () => {
    const ix = parseManifestOrIndex(
      enc({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [
          { mediaType: MediaType.ociManifest, digest: D('a'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: MediaType.ociManifest, digest: D('b'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    );
    if (ix.kind !== 'index') throw new Error('not an index');
    expect(selectPlatform(ix).digest).toBe(D('b'));
    expect(selectPlatform(ix, { os: 'linux', architecture: 'arm64' }).digest).toBe(D('a'));
    expect(() => selectPlatform(ix, { os: 'windows', architecture: 'amd64' })).toThrow(/no image for platform windows\/amd64 .*available: linux\/arm64\/v8, linux\/amd64/);
  });

  it('reads diffIDs from a config and rejects one without them', () => {
    expect(parseConfig(enc({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D('1')] } }))).toEqual({ diffIDs: [D('1')], platform: { os: 'linux', architecture: 'amd64' } });
    expect(() => parseConfig(enc({ os: 'linux' }))).toThrow(/image config is invalid: rootfs/);
  });

  it('relabels layers to the manifest family it builds', () => {
    const m = buildManifest('oci', { digest: D('c'), size: 10 }, [{ mediaType: MediaType.dockerLayerGzip, digest: D('1'), size: 5 }]);
    const doc = JSON.parse(new TextDecoder().decode(m.bytes));
    expect(doc.layers[0].mediaType).toBe(MediaType.ociLayerGzip);
    expect(doc.config.mediaType).toBe(MediaType.ociConfig);
    expect(() => buildManifest('docker', { digest: D('c'), size: 1 }, [{ mediaType: MediaType.ociLayerZstd, digest: D('1'), size: 1 }])).toThrow(/zstd/);
  });

  it('recognises compression from the first bytes', () => {
    expect(sniffCompression(Uint8Array.of(0x1f, 0x8b, 8, 0))).toBe('gzip');
    expect(sniffCompression(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd))).toBe('zstd');
    expect(sniffCompression(new TextEncoder().encode('usr/'))).toBe('none');
  });
});
