import { CodedError } from '../errors.js';

// Every way a bundle can be refused, each with its own code so callers (CLI, edge module, tests)
// can tell them apart, and a one-line message a crew member can act on.
export type BundleErrorCode =
  | 'not-a-bundle' // wrong magic
  | 'unsupported-format' // a format version this build does not read
  | 'truncated' // the file ends before what its header or manifest declares
  | 'trailing-data' // bytes after the last declared part
  | 'too-large' // a declared length or count beyond the hard bounds
  | 'unsigned' // no signature at all
  | 'wrong-key' // signed, but by another key than the one trusted
  | 'bad-signature' // the signature does not match the manifest (tampering, bit flips)
  | 'malformed-manifest' // signed, but not a manifest this build accepts
  | 'bad-id' // the bundle id does not match its contents
  | 'replay' // a version not newer than the last one applied
  | 'expired'
  | 'part-digest' // a part's bytes do not match its signed sha256 (tampering, corruption at rest)
  | 'read-error' // the file could not be read to the end (a failing or pulled USB stick): not tampering
  | 'no-matching-base' // no entry starts from the image the device has
  | 'layer-digest' // a rebuilt layer does not match its diffID
  | 'decompression-bomb' // a part expands beyond what the manifest declares
  | 'unsafe-entry'; // a layer entry that would escape its directory

export class BundleError extends CodedError<BundleErrorCode> {
  override name = 'BundleError';
  constructor(code: BundleErrorCode, detail: string) {
    super(code, `bundle rejected (${code}): ${detail}`);
  }
}
