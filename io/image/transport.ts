// Where images live, behind one pair of interfaces: an ImageSource yields an image's config and
// its layers as verified streams; an ImageDestination takes layers (as uncompressed tars or as
// stored blobs) and makes the image visible atomically on commit. Every transport of skopeo's
// reference syntax implements both; copyImage moves an image between any two of them.
import type { Readable } from 'node:stream';
import type { Descriptor, Platform } from '../../core/image/descriptor.js';
import { parseReference } from '../../core/image/reference.js';

export type { Descriptor } from '../../core/image/descriptor.js';

export interface LayerInfo {
  /** sha256 of the uncompressed layer tar */
  diffID: string;
  /** the layer as stored at the source; for docker-archive the uncompressed tar's type and digest */
  descriptor: Descriptor;
}

export interface ImageInfo {
  /** the reference as given */
  reference: string;
  /** the image ID: sha256 of configBytes */
  configDigest: string;
  /** the config's exact bytes (the image ID must survive every copy) */
  configBytes: Uint8Array;
  layers: LayerInfo[];
  repoTags: string[];
  /** the manifest as stored (registry, OCI layout) or as skopeo would synthesise it (archives, daemon) */
  manifestBytes: Uint8Array;
  manifestMediaType: string;
}

/** An image to read. Every byte it yields has been (or, for streams, is being) verified. */
export interface ImageSource {
  info(): Promise<ImageInfo>;
  /** Layer `index` as its uncompressed tar, verified against its diffID as read (the stream errors on mismatch). */
  openLayerTar(index: number): Promise<Readable>;
  /** A blob as stored, verified against its digest and size as read. */
  openBlob(descriptor: Descriptor): Promise<Readable>;
  /** Releases temp files and connections; call it whatever happened. */
  close(): Promise<void>;
}

/** An image to write. Nothing is visible until commit; abort (or a failed commit) leaves nothing behind. */
export interface ImageDestination {
  /** True when the destination already holds this layer, so copy and patch can skip it. */
  hasLayer(layer: { diffID: string; descriptor?: Descriptor }): Promise<boolean>;
  /** Whether putBlob can store a blob of this type as-is (the copy fast path, no recompression). */
  acceptsBlob(descriptor: Descriptor): boolean;
  /**
   * Stores a layer from its uncompressed tar (e.g. the delta engine's output). The destination
   * compresses as its format wants (gzip for registry and OCI layouts, none for archives), verifies
   * the diffID, and returns the descriptor its manifest will reference.
   */
  putLayerTar(diffID: string, tar: Readable, sizeHint?: number): Promise<Descriptor>;
  /** Stores a blob as-is after verifying it against the descriptor. */
  putBlob(descriptor: Descriptor, data: Readable): Promise<void>;
  /** Writes config, manifest and tags and makes the image visible in one step. */
  commit(image: { configBytes: Uint8Array; layers: LayerInfo[]; repoTags: string[] }): Promise<void>;
  /** Drops everything written so far. Safe to call after commit (then it only releases resources). */
  abort(): Promise<void>;
}

export interface TransportOptions {
  /** allow plain HTTP / unverified TLS to a non-loopback registry */
  insecure?: boolean;
  credentials?: { username: string; password: string };
  /** where temp files go (default: the OS temp dir, or beside the destination file) */
  tmpDir?: string;
  /** platform to pick from a multi-platform index (default linux/amd64) */
  platform?: Platform;
  /** docker-archive destinations: the legacy `docker save` layout (default) or Docker 25's OCI-layout form */
  archiveLayout?: 'legacy' | 'oci';
  /** registry destinations: repositories on the same registry to mount missing blobs from */
  mountFrom?: string[];
  /** registry uploads: bytes per PATCH (default 16 MiB) */
  chunkSize?: number;
  /** docker-daemon: the Docker socket (default: DOCKER_HOST or /var/run/docker.sock) */
  dockerSocket?: string;
}

export async function openSource(ref: string, opts: TransportOptions = {}): Promise<ImageSource> {
  const r = parseReference(ref);
  switch (r.transport) {
    case 'docker-archive':
      return (await import('./docker-archive.js')).openArchiveSource(ref, r.path, r.tag, opts);
    case 'oci':
      return (await import('./oci-layout.js')).openOciSource(ref, r.path, r.tag, opts);
    case 'docker-daemon':
      return (await import('./docker-daemon.js')).openDaemonSource(ref, r.name, opts);
    case 'docker':
      return (await import('./registry.js')).openRegistrySource(ref, r, opts);
  }
}

export async function openDestination(ref: string, opts: TransportOptions = {}): Promise<ImageDestination> {
  const r = parseReference(ref);
  switch (r.transport) {
    case 'docker-archive':
      return (await import('./docker-archive.js')).openArchiveDestination(r.path, r.tag, opts);
    case 'oci':
      return (await import('./oci-layout.js')).openOciDestination(r.path, r.tag, opts);
    case 'docker-daemon':
      return (await import('./docker-daemon.js')).openDaemonDestination(r.name, opts);
    case 'docker':
      if (r.digest) throw new Error(`${ref}: cannot write to a digest reference; give a tag`);
      return (await import('./registry.js')).openRegistryDestination(r, opts);
  }
}

export { copyImage, type CopyOptions } from './copy.js';
