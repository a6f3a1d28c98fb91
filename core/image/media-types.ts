// Media types of the Docker v2 schema 2 and OCI image formats, and what a layer's type says about
// how its bytes are stored.
export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayout: 'application/vnd.oci.layout.header.v1+json',
} as const;

export type Compression = 'none' | 'gzip' | 'zstd';
export type FormatFamily = 'docker' | 'oci';

const LAYERS: Record<string, { family: FormatFamily; compression: Compression }> = {
  [MediaType.dockerLayer]: { family: 'docker', compression: 'none' },
  [MediaType.dockerLayerGzip]: { family: 'docker', compression: 'gzip' },
  [MediaType.dockerForeignLayerGzip]: { family: 'docker', compression: 'gzip' },
  [MediaType.ociLayer]: { family: 'oci', compression: 'none' },
  [MediaType.ociLayerGzip]: { family: 'oci', compression: 'gzip' },
  [MediaType.ociLayerZstd]: { family: 'oci', compression: 'zstd' },
  'application/vnd.oci.image.layer.nondistributable.v1.tar': { family: 'oci', compression: 'none' },
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': { family: 'oci', compression: 'gzip' },
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': { family: 'oci', compression: 'zstd' },
};

/** How a layer blob of this media type is compressed; throws for a type that is not a layer. */
export function layerCompression(mediaType: string): Compression {
  const l = LAYERS[mediaType];
  if (!l) throw new Error(`unsupported layer media type ${JSON.stringify(mediaType)}`);
  return l.compression;
}

export function layerFamily(mediaType: string): FormatFamily {
  const l = LAYERS[mediaType];
  if (!l) throw new Error(`unsupported layer media type ${JSON.stringify(mediaType)}`);
  return l.family;
}

/** The layer media type of `family` for bytes compressed with `compression` (zstd exists only in OCI). */
export function layerMediaType(family: FormatFamily, compression: Compression): string {
  if (family === 'docker') {
    if (compression === 'zstd') throw new Error('Docker v2 schema 2 manifests cannot carry zstd layers');
    return compression === 'gzip' ? MediaType.dockerLayerGzip : MediaType.dockerLayer;
  }
  return compression === 'gzip' ? MediaType.ociLayerGzip : compression === 'zstd' ? MediaType.ociLayerZstd : MediaType.ociLayer;
}

/** Recognises the compression of a blob from its first bytes (archives do not record it). */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}
