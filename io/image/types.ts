// What every transport of skopeo's reference syntax implements: an ImageSource yields an image's
// config and its layers as verified streams; an ImageDestination takes layers (as uncompressed tars
// or as stored blobs) and makes the image visible atomically on commit. A transport's reading side
// only says where the stored bytes are (StoredImage); io/image/verified-source.ts turns that into
// an ImageSource, so verifying and decompressing happen in one place. The dispatcher that opens a
// transport by reference is io/image/transport.ts.
import type { Readable } from 'node:stream';
import type { Descriptor, Platform } from '../../core/image/descriptor.js';

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

/** A byte range of a local file: where a layer's uncompressed tar lies inside a docker-save archive. */
export interface FileSpan {
  path: string;
  offset: number;
  size: number;
}

/** An image to read. Every byte it yields has been (or, for streams, is being) verified. */
export interface ImageSource {
  info(): Promise<ImageInfo>;
  /** Layer `index` as its uncompressed tar, verified against its diffID as read (the stream errors on mismatch). */
  openLayerTar(index: number): Promise<Readable>;
  /** A blob as stored, verified against its digest and size as read. */
  openBlob(descriptor: Descriptor): Promise<Readable>;
  /**
   * Where layer `index`'s uncompressed tar lies in a local file, if it does (docker-archive stores
   * layers uncompressed), so the delta engine can read it in place. Not verified: the caller checks
   * the range against the diffID before use (io/delta/file-source.ts FileRange).
   */
  layerFile?(index: number): Promise<FileSpan | undefined>;
  /** Releases temp files and connections; call it whatever happened. */
  close(): Promise<void>;
}

/** A transport's stored image: its metadata, and blobs as stored, not yet verified. */
export interface StoredImage {
  info(): Promise<ImageInfo>;
  /** The blob's bytes as stored, and how to name it (read AS a blob or a layer) in errors. */
  readStored(descriptor: Descriptor, as: 'blob' | 'layer'): Promise<{ data: Readable; what: string }>;
  /** As ImageSource.layerFile (passed through unverified; the delta engine checks it). */
  layerFile?(index: number): Promise<FileSpan | undefined>;
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
  /**
   * As putLayerTar, for a layer whose uncompressed tar lies in a local file (ImageSource.layerFile):
   * copied without streams where the destination can (docker-archive), checked against diffID as
   * it is read; a mismatch fails with DigestMismatchError naming `what`.
   */
  putLayerFile?(diffID: string, file: FileSpan, what: string): Promise<Descriptor>;
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
