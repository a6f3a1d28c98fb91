// Builds a patch that rebuilds every target layer from base layers (DESIGN.md, "Delta engine").
// Layers the device has cost nothing; a changed layer becomes a layer program (ops.ts) working
// per tar entry: identical content anywhere in the base is copied by reference, the same path or
// a similar name gets a bsdiff delta, the rest is literal. Headers are encoded against the
// matched base header (tar/header-codec.ts). Deterministic: the same inputs give the same bytes,
// whatever the worker timing.
import { encodeConfigDelta, type ConfigDeltaItem } from './config-delta.js';
import { allocChainIndex, type ChainIndex } from './matcher.js';
import { ByteWriter, type ByteSource } from './bytes.js';
import { joinWindows, rebaseWindow, withX86Prediction, type Differ, type DiffResult, type WindowResult } from './differ.js';
import { HEAD_BYTES } from './elf/layout.js';
import { predictable, x86Context } from './elf/delta.js';
import { encodeConfig, SECTION_NAMES, type PatchHeader, type PatchLayer, type SectionName, type SectionSize } from './format.js';
import { CONTENT, HDR_MODE, HF_SHIFT, OP, PAD_LITERAL, WORD_MAPPED } from './ops.js';
import { encodeHeader, HF } from '../tar/header-codec.js';
import { normalisePath } from '../tar/path.js';
import { readTarLayout, type TarEntry } from '../tar/reader.js';

export interface IncrementalHash {
  update(b: Uint8Array): void;
  digest(): string;
}

/** A compressed section being written. */
export interface SectionWriter {
  write(b: Uint8Array): Promise<void>;
  finish(): Promise<SectionSize>;
}

/** One carried layer's sections, written one after the other; finish() says where they landed. */
export interface LayerWriter {
  section(name: SectionName): SectionWriter;
  finish(): Promise<{ offset: number; length: number; sha256: string }>;
}

export interface BuildEnv {
  openLayer(): LayerWriter;
  hash(): IncrementalHash;
  differ: Differ;
  onProgress?(done: number, total: number): void;
}

export interface ImageLayers {
  configDigest: string;
  /** A base's config bytes, when known: the target's config is then coded against them. */
  configBytes?: Uint8Array;
  diffIDs: string[];
  /** Uncompressed layer tars, one per diffID. */
  layers: ByteSource[];
}

export interface TargetImage extends ImageLayers {
  configBytes: Uint8Array;
  repoTags: string[];
}

/** Files up to this size are diffed whole with a suffix array (on a worker); larger ones in windows. */
export const WHOLE_DIFF_LIMIT = 32 << 20;
/** New-file window for large diffs: bounds memory to the old file + a few windows; windows are diffed
 * on every thread at once, and each one's streams compress while later ones are diffed. */
const WINDOW = 16 << 20;
/** Windows of a large (non-ELF) file in flight beyond one per thread. */
const WINDOWS_AHEAD = 1;
/** Old files beyond this are not loaded for diffing (build memory bound); their content goes literal. */
const MAX_DELTA_OLD = 1280 << 20;
const CHUNK = 1 << 20;
/** A delta against a file matched by name is used only when its new bytes (literal + nonzero differences) stay under this share of the file. */
const DELTA_WORTH = 0.25;
/** Diff jobs in flight, so both workers stay busy while the writer waits for the oldest. */
const IN_FLIGHT = 6;

interface BaseFile {
  layer: number;
  index: number;
  entry: TarEntry;
  hash?: string;
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const hasContent = (e: TarEntry) => e.size > 0 && (e.type === '0' || e.type === '7');

class BaseIndex {
  readonly byPath = new Map<string, BaseFile>();
  readonly byName = new Map<string, BaseFile[]>();
  readonly bySize = new Map<number, BaseFile[]>();
  constructor(
    readonly layers: ByteSource[],
    private readonly env: BuildEnv,
  ) {}

  static async build(layers: ByteSource[], env: BuildEnv): Promise<BaseIndex> {
    const index = new BaseIndex(layers, env);
    for (let i = 0; i < layers.length; i++) {
      for (const [k, entry] of (await readTarLayout(layers[i]!)).entries.entries()) {
        const f: BaseFile = { layer: i, index: k, entry };
        const path = normalisePath(entry.path);
        index.byPath.set(path, f); // later layers shadow earlier ones, as in the image
        if (!hasContent(entry)) continue;
        const name = baseName(path);
        index.byName.set(name, [...(index.byName.get(name) ?? []), f]);
        index.bySize.set(entry.size, [...(index.bySize.get(entry.size) ?? []), f]);
      }
    }
    return index;
  }

  async hashOf(src: ByteSource, offset: number, size: number): Promise<string> {
    const h = this.env.hash();
    for (let o = 0; o < size; o += CHUNK) h.update(await src.read(offset + o, Math.min(CHUNK, size - o)));
    return h.digest();
  }

  /** A base file with exactly this content, preferring `prefer`. */
  async identical(src: ByteSource, e: TarEntry, prefer?: BaseFile): Promise<BaseFile | undefined> {
    const candidates = this.bySize.get(e.size);
    if (!candidates) return undefined;
    const want = await this.hashOf(src, e.dataOffset, e.size);
    const ordered = prefer && candidates.includes(prefer) ? [prefer, ...candidates.filter((c) => c !== prefer)] : candidates;
    for (const c of ordered) {
      c.hash ??= await this.hashOf(this.layers[c.layer]!, c.entry.dataOffset, c.entry.size);
      if (c.hash === want) return c;
    }
    return undefined;
  }

  /** The base file to diff against: same path, else same file name with the closest size. */
  similar(e: TarEntry, samePath?: BaseFile): BaseFile | undefined {
    if (samePath && hasContent(samePath.entry)) return samePath;
    let best: BaseFile | undefined;
    for (const c of this.byName.get(baseName(normalisePath(e.path))) ?? []) {
      const ratio = c.entry.size / e.size;
      if (ratio < 0.5 || ratio > 2) continue;
      if (!best || Math.abs(c.entry.size - e.size) < Math.abs(best.entry.size - e.size)) best = c;
    }
    return best;
  }

  headerOf(f: BaseFile): Promise<Uint8Array> {
    return this.layers[f.layer]!.read(f.entry.start, f.entry.dataOffset - f.entry.start);
  }
}

type Sections = Record<SectionName, SectionWriter>;

/** How an entry's content is encoded, decided (and any diff job started) ahead of writing. */
type Content =
  | { kind: 'none' }
  | { kind: 'literal' }
  | { kind: 'copy'; from: BaseFile }
  | { kind: 'delta'; from: BaseFile; result: Promise<DiffResult> }
  | { kind: 'large-delta'; from: BaseFile };

class LayerEncoder {
  readonly ops = new ByteWriter(1 << 16);
  private previousHeader: Uint8Array | undefined;
  /** Last base entry index named as a header reference, per base layer (for delta coding). */
  private readonly lastIndex = new Map<number, number>();
  constructor(
    readonly s: Sections,
    readonly base: BaseIndex,
    readonly src: ByteSource,
    readonly differ: Differ,
  ) {}

  async flushOps(): Promise<void> {
    if (this.ops.length >= 1 << 16) await this.s.ops.write(this.ops.take());
  }

  /** Copies target bytes [offset, offset+len) into a section, chunk by chunk. */
  async pipe(section: SectionWriter, offset: number, len: number): Promise<void> {
    for (let o = 0; o < len; o += CHUNK) await section.write(await this.src.read(offset + o, Math.min(CHUNK, len - o)));
  }

  /** Target bytes as ZERO runs and LIT pieces (the trailer). */
  async zerosOrLiteral(offset: number, len: number): Promise<void> {
    for (let o = 0; o < len; o += CHUNK) {
      const b = await this.src.read(offset + o, Math.min(CHUNK, len - o));
      let i = 0;
      while (i < b.length) {
        let j = i;
        if (b[i] === 0) {
          while (j < b.length && b[j] === 0) j++;
          this.ops.byte(OP.ZERO);
        } else {
          while (j < b.length && b[j] !== 0) j++;
          this.ops.byte(OP.LIT);
          await this.s.lit.write(b.subarray(i, j));
        }
        this.ops.uvar(j - i);
        i = j;
      }
    }
  }

  async writeDiff(r: DiffResult): Promise<void> {
    await this.s.ctrl.write(r.ctrl);
    await this.s.runs.write(r.runs);
    await this.s.diff.write(r.diff);
    await this.s.lit.write(r.extra);
  }

  /** Bytes [offset, offset+size) of src in a buffer of their own, shared with the workers when the differ has them. */
  async load(src: ByteSource, offset: number, size: number): Promise<Uint8Array> {
    const out = this.differ.shared ? new Uint8Array(new SharedArrayBuffer(size)) : new Uint8Array(size);
    for (let o = 0; o < size; o += CHUNK) {
      const piece = out.subarray(o, Math.min(size, o + CHUNK));
      if (src.readInto) await src.readInto(piece, offset + o);
      else piece.set(await src.read(offset + o, piece.length));
    }
    return out;
  }

  /** The old file loaded, and its index for all windows being filled on another thread (done when `filled` is). */
  async oldIndex(ref: BaseFile): Promise<{ ix: ChainIndex; filled: Promise<void> }> {
    const ix = allocChainIndex(await this.load(this.base.layers[ref.layer]!, ref.entry.dataOffset, ref.entry.size), this.differ.shared);
    const filled = this.differ.index(ix);
    filled.catch(() => undefined); // awaited by the caller
    return { ix, filled };
  }

  /** A delta too large to diff whole: the old file in memory, the new one window by window, several windows at once. */
  async largeDelta(ref: BaseFile, e: TarEntry): Promise<void> {
    const { ix, filled } = await this.oldIndex(ref);
    await filled;
    const ahead = this.differ.threads + WINDOWS_AHEAD;
    const pending: Array<Promise<WindowResult>> = [];
    let cursor = 0;
    const writeOldest = async () => {
      const r = await pending.shift()!;
      await this.writeDiff(rebaseWindow(r, cursor));
      cursor = r.oldEnd;
    };
    for (let w = 0; w < e.size; w += WINDOW) {
      // a copy of its own: the job may move it to a worker
      const nw = new Uint8Array(await this.src.read(e.dataOffset + w, Math.min(WINDOW, e.size - w)));
      const job = this.differ.window(ix, nw, w);
      job.catch(() => undefined); // awaited in order below
      pending.push(job);
      while (pending.length >= ahead) await writeOldest();
    }
    while (pending.length) await writeOldest();
  }

  /**
   * A large delta of an x86-64 ELF file, diffed window by window as largeDelta does but kept whole,
   * so the reference prediction (elf/delta.ts) can use every window's alignment; undefined for other files.
   */
  async largeX86Delta(ref: BaseFile, e: TarEntry): Promise<DiffResult | undefined> {
    const src = this.base.layers[ref.layer]!;
    if (!predictable(await src.read(ref.entry.dataOffset, Math.min(HEAD_BYTES, ref.entry.size)), ref.entry.size, e.size)) return undefined;
    const [{ ix, filled }, nw] = await Promise.all([this.oldIndex(ref), this.load(this.src, e.dataOffset, e.size)]);
    // The prediction's part that needs no alignment, on this thread while a worker fills the index.
    const cx = x86Context(ix.old, nw);
    await filled;
    const windows: Array<Promise<WindowResult>> = [];
    for (let w = 0; w < e.size; w += WINDOW) windows.push(this.differ.window(ix, nw.subarray(w, Math.min(e.size, w + WINDOW)), w));
    return withX86Prediction(ix.old, nw, joinWindows(await Promise.all(windows)), cx);
  }

  /** Writes one entry: op code and fields, header bytes, content, padding. */
  async entry(e: TarEntry, headerRef: BaseFile | undefined, planned: Content): Promise<void> {
    let content = planned;
    let diff: DiffResult | undefined;
    if (content.kind === 'large-delta') {
      const whole = await this.largeX86Delta(content.from, e);
      if (whole) content = { kind: 'delta', from: content.from, result: Promise.resolve(whole) };
    }
    if (content.kind === 'delta') {
      diff = await content.result;
      // A file matched only by name is often unrelated: a delta that is mostly new bytes then
      // compresses worse than the file as literal (measured on base-on-device: 5% of the patch).
      if (content.from !== headerRef && diff.extra.length + diff.diff.length > e.size * DELTA_WORTH) content = { kind: 'literal' };
    }
    const header = await this.src.read(e.start, e.dataOffset - e.start);
    const contentLen = e.size;
    const pad = await this.src.read(e.dataOffset + e.size, e.end - e.dataOffset - e.size);
    const padLiteral = pad.some((b) => b !== 0);

    const fields = new ByteWriter(32);
    let code = 0;
    // header
    const baseHeader = headerRef ? await this.base.headerOf(headerRef) : undefined;
    const ref = baseHeader?.length === header.length ? baseHeader : this.previousHeader?.length === header.length ? this.previousHeader : undefined;
    if (ref) {
      const h = encodeHeader(header, ref, contentLen);
      if (ref === baseHeader) {
        code |= HDR_MODE.BASE << 3;
        const predicted = (this.lastIndex.get(headerRef!.layer) ?? -1) + 1;
        fields.uvar(headerRef!.layer);
        fields.svar(headerRef!.index - predicted);
        this.lastIndex.set(headerRef!.layer, headerRef!.index);
      } else code |= HDR_MODE.PREVIOUS << 3;
      code += h.flags * 2 ** HF_SHIFT;
      if (h.flags & HF.MTIME) fields.svar(h.mtimeDelta);
      await this.s.hdr.write(h.xor);
    } else {
      code |= HDR_MODE.RAW << 3;
      fields.uvar(header.length);
      await this.s.hdr.write(header);
    }
    this.previousHeader = header;
    if (padLiteral) code |= PAD_LITERAL;
    // content
    const sameAsHeader = (f: BaseFile) => ref === baseHeader && f === headerRef;
    switch (content.kind) {
      case 'none':
        code |= CONTENT.NONE;
        break;
      case 'literal':
        code |= CONTENT.LIT;
        fields.uvar(e.size);
        break;
      case 'copy':
        if (sameAsHeader(content.from)) code |= CONTENT.SAME;
        else {
          code |= CONTENT.COPY;
          fields.uvar(content.from.layer);
          fields.uvar(content.from.index);
        }
        break;
      case 'delta':
      case 'large-delta': {
        const x86 = content.kind === 'delta' && diff!.x86;
        if (sameAsHeader(content.from)) code |= x86 ? CONTENT.DELTA_REF_X86 : CONTENT.DELTA_REF;
        else {
          code |= x86 ? CONTENT.DELTA_OTHER_X86 : CONTENT.DELTA_OTHER;
          fields.uvar(content.from.layer);
          fields.uvar(content.from.index);
        }
        fields.uvar(e.size);
        if (diff?.words) {
          code |= WORD_MAPPED;
          fields.bytes(diff.words);
        }
        break;
      }
    }
    this.ops.byte(OP.ENTRY);
    this.ops.uvar(code);
    if (content.kind === 'delta') {
      this.ops.bytes(fields.view());
      await this.writeDiff(diff!);
    } else if (content.kind === 'large-delta') {
      this.ops.bytes(fields.view());
      await this.largeDelta(content.from, e);
    } else {
      this.ops.bytes(fields.view());
      if (content.kind === 'literal') await this.pipe(this.s.lit, e.dataOffset, e.size);
    }
    if (padLiteral) await this.s.lit.write(pad);
  }
}

/** Decides how an entry's content is encoded and starts any diff job (entries are written in order later). */
async function planEntry(enc: LayerEncoder, env: BuildEnv, e: TarEntry): Promise<{ headerRef: BaseFile | undefined; content: Content }> {
  const samePath = enc.base.byPath.get(normalisePath(e.path));
  if (!hasContent(e)) return { headerRef: samePath, content: e.size > 0 ? { kind: 'literal' } : { kind: 'none' } };
  const same = await enc.base.identical(enc.src, e, samePath);
  if (same) return { headerRef: samePath, content: { kind: 'copy', from: same } };
  const ref = enc.base.similar(e, samePath);
  if (!ref || ref.entry.size > MAX_DELTA_OLD) return { headerRef: samePath, content: { kind: 'literal' } };
  if (ref.entry.size > WHOLE_DIFF_LIMIT || e.size > WHOLE_DIFF_LIMIT) return { headerRef: samePath, content: { kind: 'large-delta', from: ref } };
  const [old, nw] = await Promise.all([enc.base.layers[ref.layer]!.read(ref.entry.dataOffset, ref.entry.size), enc.src.read(e.dataOffset, e.size)]);
  // Copies: the job may transfer them to a worker, and sources may hand out shared views.
  const result = env.differ.diff(new Uint8Array(old), new Uint8Array(nw));
  result.catch(() => undefined); // awaited in entry order; no unhandled rejection meanwhile
  return { headerRef: samePath, content: { kind: 'delta', from: ref, result } };
}

async function encodeLayer(target: ByteSource, base: BaseIndex, env: BuildEnv, progress: (n: number) => void) {
  const w = env.openLayer();
  const s = Object.fromEntries(SECTION_NAMES.map((name) => [name, w.section(name)])) as Sections;
  const enc = new LayerEncoder(s, base, target, env.differ);
  const layout = await readTarLayout(target);
  const queue: Array<{ entry: TarEntry; plan: ReturnType<typeof planEntry> }> = [];
  const writeOne = async () => {
    const next = queue.shift()!;
    const { headerRef, content } = await next.plan;
    await enc.entry(next.entry, headerRef, content);
    await enc.flushOps();
    progress(next.entry.end - next.entry.start);
  };
  for (const entry of layout.entries) {
    const plan = planEntry(enc, env, entry);
    plan.catch(() => undefined);
    queue.push({ entry, plan });
    while (queue.length > IN_FLIGHT) await writeOne();
  }
  while (queue.length) await writeOne();
  await enc.zerosOrLiteral(layout.trailerOffset, layout.size - layout.trailerOffset);
  progress(layout.size - layout.trailerOffset);
  enc.ops.byte(OP.END);
  await s.ops.write(enc.ops.take());
  // At once: a whole section is compressed when it finishes, and one after the other they put
  // runtime-update's ctrl, runs and diff (2.7 + 8.5 + 11.3 s of CPU) on one thread of the pool.
  // The record is filled in section order after, since its key order is the header's JSON.
  const sizes = await Promise.all(SECTION_NAMES.map((name) => s[name].finish()));
  const sections = Object.fromEntries(SECTION_NAMES.map((name, i) => [name, sizes[i]!])) as Record<SectionName, SectionSize>;
  return { ...(await w.finish()), sections };
}

/**
 * Builds the patch header and writes every changed layer's sections through `env`. Without a
 * base (a first image) every layer is carried, its files compressed together.
 * `knownDiffIDs`: layers the device has in other images (they cost nothing either).
 */
export async function buildPatch(base: ImageLayers | null, target: TargetImage, env: BuildEnv, knownDiffIDs: Iterable<string> = []): Promise<PatchHeader> {
  if (target.diffIDs.length !== target.layers.length || (base && base.diffIDs.length !== base.layers.length)) throw new Error('each layer needs exactly one diffID');
  const known = new Set(knownDiffIDs);
  const total = target.layers.reduce((n, l) => n + l.size, 0);
  let done = 0;
  const progress = (n: number) => {
    done += n;
    env.onProgress?.(done, total);
  };
  let index: BaseIndex | undefined;
  const encoded = new Map<string, PatchLayer>();
  const layers: PatchLayer[] = [];
  for (let i = 0; i < target.layers.length; i++) {
    const diffID = target.diffIDs[i]!;
    const size = target.layers[i]!.size;
    const inBase = base ? base.diffIDs.indexOf(diffID) : -1;
    const again = encoded.get(diffID);
    let layer: PatchLayer;
    if (inBase >= 0) layer = { from: 'base', diffID, size, index: inBase };
    else if (known.has(diffID)) layer = { from: 'known', diffID, size };
    else if (again) layer = again;
    else {
      index ??= await BaseIndex.build(base?.layers ?? [], env);
      layer = { from: 'patch', diffID, size, ...(await encodeLayer(target.layers[i]!, index, env, progress)) };
      encoded.set(diffID, layer);
      layers.push(layer);
      continue;
    }
    progress(size);
    layers.push(layer);
  }
  return {
    base: base ? { configDigest: base.configDigest, diffIDs: base.diffIDs } : { configDigest: null, diffIDs: [] },
    target: { configDigest: target.configDigest, ...configField(base?.configBytes, target.configBytes), repoTags: target.repoTags },
    layers,
  };
}

/** The target config as a delta against the base's when that is shorter (as JSON text), else whole. */
function configField(base: Uint8Array | undefined, target: Uint8Array): { config: string } | { configDelta: ConfigDeltaItem[] } {
  const config = encodeConfig(target);
  let baseText: string;
  try {
    if (!base) return { config };
    baseText = encodeConfig(base);
  } catch {
    return { config };
  }
  const configDelta = encodeConfigDelta(baseText, config);
  return JSON.stringify(configDelta).length < JSON.stringify(config).length ? { configDelta } : { config };
}
