// An image signature: what Lighter knows about an image without its bytes. Small enough to keep in
// the inventory for every image a device has, and enough to rank candidate bases for a target.
export interface FileFingerprint {
  /** path inside the layer, normalised by core/tar/path.ts ("./etc/" is "etc") */
  path: string;
  size: number;
  /** "sha256:<hex>" of the file's content; absent for non-regular entries */
  hash?: string;
}

export interface LayerFingerprint {
  diffID: string;
  /** uncompressed tar size */
  size: number;
  files: FileFingerprint[];
}

export interface ImageSignature {
  version: 1;
  configDigest: string;
  repoTags: string[];
  layers: LayerFingerprint[];
}
