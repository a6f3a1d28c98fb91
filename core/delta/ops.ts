// Op codes of a layer's "ops" section: a program that rebuilds the layer tar from base layers
// and the other sections (docs/patch-format.md, "Layer program").
export const OP = {
  END: 0,
  /** uvar ref (0 literal, else base layer + 1), [uvar offset], uvar len: header bytes from "hdr", XOR base bytes when ref. */
  HDR: 1,
  /** uvar layer, uvar offset, uvar len: bytes copied from a base layer. */
  COPY: 2,
  /** uvar layer, uvar offset, uvar oldLen, uvar newLen: bsdiff against base bytes, triples from "ctrl". */
  DELTA: 3,
  /** uvar len: bytes from "lit". */
  LIT: 4,
  /** uvar len: zero bytes (padding, end-of-archive blocks). */
  ZERO: 5,
} as const;
