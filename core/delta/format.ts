// The patch file's framing and header (docs/patch-format.md):
//   "LGTPATCH" | u32 BE version | u32 BE header length | header (brotli JSON) | 32-byte sha256 of
//   the compressed header | layer sections (offsets in the header count from the end of this)
// Every length is bounded and checked before anything is read or allocated from it.
import { z } from 'zod';

export const MAGIC = 'LGTPATCH';
/**
 * Version 3 added the x86-predicted delta kinds, version 4 the context-mixing section coding
 * (`coding: 'cm'`), version 5 the .eh_frame_hdr table of x86-predicted deltas carried as differences
 * from its prediction (elf/ehtable.ts), the target config coded against the base config
 * (`configDelta`) and sections coded in independent blocks (`coding: 'blocks'`, first images,
 * compressed on both cores), version 6 the symbol tables of x86-predicted deltas predicted from
 * the old symbol of the same name (elf/symbols.ts, the matches after the control triples) and word-mapped text deltas (ops.ts
 * WORD_MAPPED, words.ts), version 7 the CIE pointers of .eh_frame FDEs among the reference sites
 * of x86-predicted deltas (elf/references.ts); each older version is a valid newer patch without what came
 * later, so all are read (the applier is told the version: applyLayer).
 */
export const FORMAT_VERSION = 7;
const READABLE_VERSIONS = [2, 3, 4, 5, 6, 7];
export const PREFIX_BYTES = 16;
export const HEADER_DIGEST_BYTES = 32;
/** Bound on the compressed and on the decompressed header. */
export const MAX_HEADER_BYTES = 16 << 20;
/** Largest layer or decompressed section we accept: 64 GiB. */
const MAX_BYTES = 64 * 2 ** 30;
/** Bound on the target config's text. */
export const MAX_CONFIG_CHARS = 8 << 20;

export const SECTION_NAMES = ['ops', 'hdr', 'ctrl', 'runs', 'diff', 'lit'] as const;
export type SectionName = (typeof SECTION_NAMES)[number];

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);
const size = z.number().int().min(0).max(MAX_BYTES);

/** Largest raw block of a 'blocks' section: the applier holds one block's brotli window at a time. */
export const MAX_BLOCK_BYTES = 16 << 20;
const section = z
  .object({
    /** Compressed length (sections follow each other in SECTION_NAMES order). */
    length: size,
    /** Decompressed length (the decompressor stops with an error beyond it). */
    rawLength: size,
    /**
     * 'cm': coded by core/delta/cm (version 4 on); 'blocks': independent brotli streams of `block`
     * raw bytes each (the last one the rest), compressed lengths in `blocks` (version 5 on); absent: brotli.
     */
    coding: z.enum(['cm', 'blocks']).optional(),
    block: z.number().int().min(1).max(MAX_BLOCK_BYTES).optional(),
    blocks: z.array(z.number().int().min(1).max(MAX_BYTES)).max(1 << 20).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.coding !== 'blocks') {
      if (s.block !== undefined || s.blocks !== undefined) ctx.addIssue({ code: 'custom', message: 'block sizes on a section not coded in blocks' });
      return;
    }
    if (s.block === undefined || s.blocks === undefined) return void ctx.addIssue({ code: 'custom', message: 'a section coded in blocks needs block and blocks' });
    if (s.blocks.length !== Math.ceil(s.rawLength / s.block)) ctx.addIssue({ code: 'custom', message: `${s.blocks.length} blocks do not cover ${s.rawLength} bytes in blocks of ${s.block}` });
    if (s.blocks.reduce((n, b) => n + b, 0) !== s.length) ctx.addIssue({ code: 'custom', message: 'blocks do not add up to the section length' });
  });
export type SectionSize = z.infer<typeof section>;

const layer = z.discriminatedUnion('from', [
  /** Identical to base layer `index`. */
  z.object({ from: z.literal('base'), diffID: digest, size, index: z.number().int().min(0) }),
  /** The device already has it (from another image); the patch does not carry it. */
  z.object({ from: z.literal('known'), diffID: digest, size }),
  z.object({
    from: z.literal('patch'),
    diffID: digest,
    size,
    /** The layer's sections: where they start, their total length, and its sha256. */
    offset: size,
    length: size,
    sha256: digest,
    sections: z.object({ ops: section, hdr: section, ctrl: section, runs: section, diff: section, lit: section }),
  }),
]);
export type PatchLayer = z.infer<typeof layer>;
export type CarriedLayer = Extract<PatchLayer, { from: 'patch' }>;

export const patchHeader = z
  .object({
    /** The image the patch applies to: its config digest (null for a first image) and the layers it needs. */
    base: z.object({ configDigest: digest.nullable(), diffIDs: z.array(digest).max(1000) }),
    target: z.object({
      configDigest: digest,
      /** The target image config's exact bytes, as UTF-8 text (their sha256 is configDigest)... */
      config: z.string().max(MAX_CONFIG_CHARS).optional(),
      /** ...or that text coded against the base config's (version 5 on, core/delta/config-delta.ts). */
      configDelta: z
        .array(z.union([z.string().max(MAX_CONFIG_CHARS), z.tuple([z.number().int().min(0).max(MAX_CONFIG_CHARS), z.number().int().min(1).max(MAX_CONFIG_CHARS)])]))
        .max(1 << 16)
        .optional(),
      repoTags: z.array(z.string().max(512)).max(100),
    }),
    layers: z.array(layer).max(1000),
  })
  .superRefine((h, ctx) => {
    if ((h.target.config === undefined) === (h.target.configDelta === undefined)) ctx.addIssue({ code: 'custom', path: ['target'], message: 'needs exactly one of config and configDelta' });
    if (h.target.configDelta && !h.base.configDigest) ctx.addIssue({ code: 'custom', path: ['target'], message: 'has a configDelta but no base config' });
    for (const l of h.layers) {
      const baseLayers = h.base.diffIDs.length;
      if (l.from === 'base' && l.index >= baseLayers) ctx.addIssue({ code: 'custom', message: `layer refers to base layer ${l.index} of ${baseLayers}` });
      if (l.from === 'patch' && SECTION_NAMES.reduce((n, s) => n + l.sections[s].length, 0) !== l.length) ctx.addIssue({ code: 'custom', message: 'layer sections do not add up to its length' });
    }
  });
export type PatchHeader = z.infer<typeof patchHeader>;

export class PatchFormatError extends Error {
  override name = 'PatchFormatError';
}

export function encodePrefix(headerBytes: number): Uint8Array {
  const out = new Uint8Array(PREFIX_BYTES);
  out.set(new TextEncoder().encode(MAGIC));
  const dv = new DataView(out.buffer);
  dv.setUint32(8, FORMAT_VERSION);
  dv.setUint32(12, headerBytes);
  return out;
}

/** The format version a (validated) prefix names. */
export function prefixVersion(prefix: Uint8Array): number {
  return new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(8);
}

/** Validates the fixed prefix; returns the (compressed) header length. */
export function decodePrefix(prefix: Uint8Array): number {
  if (prefix.length < PREFIX_BYTES || new TextDecoder().decode(prefix.subarray(0, 8)) !== MAGIC) throw new PatchFormatError('not a Lighter patch (bad magic)');
  const dv = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const version = dv.getUint32(8);
  if (!READABLE_VERSIONS.includes(version)) throw new PatchFormatError(`unsupported patch format version ${version} (this build reads ${READABLE_VERSIONS.slice(0, -1).join(', ')} and ${READABLE_VERSIONS.at(-1)})`);
  const len = dv.getUint32(12);
  if (len === 0 || len > MAX_HEADER_BYTES) throw new PatchFormatError(`patch header length ${len} out of bounds`);
  return len;
}

/** Parses and validates header JSON; checks the layers' sections exactly fill `dataBytes`. */
export function parseHeader(json: Uint8Array, dataBytes: number): PatchHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    throw new PatchFormatError('patch header is not valid JSON');
  }
  const parsed = patchHeader.safeParse(raw);
  if (!parsed.success) throw new PatchFormatError(`patch header is invalid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  let end = 0;
  for (const l of parsed.data.layers) if (l.from === 'patch') end = Math.max(end, l.offset + l.length);
  if (end !== dataBytes) throw new PatchFormatError(`patch is ${dataBytes < end ? 'truncated' : 'longer than its header says'}: its layers need ${end} bytes after the header, the file has ${dataBytes}`);
  return parsed.data;
}

/**
 * The header's `config`: the config's exact bytes as text. Configs are JSON, so UTF-8: as text they
 * cost a third less than base64 in the compressed header (app-update: 2,421 → ~1,560 header bytes).
 * The BOM is kept (ignoreBOM) so the bytes come back exactly; the applier checks them against
 * configDigest.
 */
export function encodeConfig(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new Error('the target image config is not UTF-8 text');
  }
}

export function decodeConfig(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
