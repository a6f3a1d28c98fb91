// The layer program in a layer's "ops" section (docs/patch-format.md, "Layer program"). Base
// entries are named by (base layer, entry index in that layer's tar layout), so a target layer
// that keeps its base's file order costs about one byte per entry.
export const OP = {
  END: 0,
  /** A tar entry: uvar code, then fields as CONTENT/HDR_MODE say (see EntryOp). */
  ENTRY: 1,
  /** uvar len: bytes from "lit" (trailers). */
  LIT: 2,
  /** uvar len: zero bytes (end-of-archive blocks). */
  ZERO: 3,
} as const;

/** How an entry's content is rebuilt (code bits 0–2). */
export const CONTENT = {
  NONE: 0,
  /** The header reference's content, unchanged. */
  SAME: 1,
  /** uvar layer, uvar index: another base entry's content, unchanged. */
  COPY: 2,
  /** uvar newLen: bsdiff against the header reference's content. */
  DELTA_REF: 3,
  /** uvar layer, uvar index, uvar newLen: bsdiff against another base entry. */
  DELTA_OTHER: 4,
  /** uvar len: bytes from "lit". */
  LIT: 5,
  /** As DELTA_REF, differences taken against the old bytes with x86-64 references predicted (elf/delta.ts). */
  DELTA_REF_X86: 6,
  /** As DELTA_OTHER, with x86-64 references predicted. */
  DELTA_OTHER_X86: 7,
} as const;

/** What the entry's header records are encoded against (code bits 3–4). */
export const HDR_MODE = {
  /** uvar len: raw bytes from "hdr". */
  RAW: 0,
  /** uvar layer, svar (index − (last index used in that layer + 1)): a base entry's header. */
  BASE: 1,
  /** The previous entry's header in this layer. */
  PREVIOUS: 2,
} as const;

/** code bit 5: the padding is not all zeros and comes from "lit". Bits 6–8: header flags (HF). */
export const PAD_LITERAL = 1 << 5;
export const HF_SHIFT = 6;
/**
 * code bit 9 (format 6 on, DELTA_REF and DELTA_OTHER only): a word map (words.ts) follows the
 * content fields, and the delta's triples copy from the old content with it applied.
 */
export const WORD_MAPPED = 1 << 9;
/** Codes at or above this are malformed. */
export const CODE_LIMIT = 1 << 10;
