// An image signature: what Lighter knows about an image without its bytes. Small enough to keep in
// the inventory for every image a device has, and enough to rank candidate bases for a target.
export interface FileFingerprint {
  /** path inside the layer, normalised by core/tar/path.ts ("./etc/" is "etc") */
  path: string;
  size: number;
  /** "sha256:<hex>" of the file's content; absent for non-regular entries */
  hash?: string;
  /** (version 2) bytes the content compresses to, gauged (io/bundle/content-features.ts) */
  packed?: number;
  /** (version 2, files of 16 KiB and more) the content sketch's samples (core/signature/sketch.ts) */
  sketch?: string;
  /** log2 of the sketch's sampling rate */
  sketchBits?: number;
}

export interface LayerFingerprint {
  diffID: string;
  /** uncompressed tar size */
  size: number;
  files: FileFingerprint[];
}

export interface ImageSignature {
  /** 1: paths, sizes and hashes only; 2: also what each file's content compresses to, and sketches */
  version: 1 | 2;
  configDigest: string;
  repoTags: string[];
  layers: LayerFingerprint[];
}
