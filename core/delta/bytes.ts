// Byte plumbing shared by the builder and the applier: random-access sources, a growable buffer,
// LEB128 varints, and a pull reader over a chunked stream. Pure: I/O arrives as ByteSource.

/** Random access to an immutable run of bytes (a layer tar spooled to disk, a blob, a buffer). */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; rejects if the range is outside the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Fills `target` with the bytes at `offset` (same bounds as read), where the source can read into
   * a caller's buffer: reused buffers keep garbage, and so peak RSS, down.
   */
  readInto?(target: Uint8Array, offset: number): Promise<void>;
  /**
   * As readInto, done before it returns, where the source can read without waiting (a local file,
   * once checked): true when `target` is filled, false (nothing read) when readInto must be asked.
   */
  readIntoNow?(target: Uint8Array, offset: number): boolean;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > bytes.length) throw new RangeError(`read ${offset}+${length} outside ${bytes.length} bytes`);
      return bytes.subarray(offset, offset + length);
    },
    readIntoNow: (target, offset) => {
      if (offset < 0 || offset + target.length > bytes.length) throw new RangeError(`read ${offset}+${target.length} outside ${bytes.length} bytes`);
      target.set(bytes.subarray(offset, offset + target.length));
      return true;
    },
  };
}

/** Little-endian fixed-width fields (ELF headers, tables and operands) at b[p]: unsigned 16 bits. */
export const u16le = (b: Uint8Array, p: number): number => b[p]! | (b[p + 1]! << 8);
/** Signed 32 bits, little-endian. */
export const i32le = (b: Uint8Array, p: number): number => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
/** Unsigned 32 bits, little-endian. */
export const u32le = (b: Uint8Array, p: number): number => i32le(b, p) >>> 0;
/** Unsigned 64 bits, little-endian, as a number: from 2^53 on Number.MAX_SAFE_INTEGER (out of every range rather than imprecise). */
export function u64le(b: Uint8Array, p: number): number {
  const hi = u32le(b, p + 4);
  // the low word itself where the high one is 0: hi * 2^32 + lo is a double even when it is small,
  // and the ELF layout's segments kept such doubles in fields that every read in the applier's
  // lower tiers boxed anew
  if (hi === 0) return u32le(b, p);
  return hi >= 1 << 21 ? Number.MAX_SAFE_INTEGER : hi * 2 ** 32 + u32le(b, p);
}
/** Writes the low 32 bits of v (an integer, either sign) little-endian at b[p, p + 4). */
export function put32le(b: Uint8Array, p: number, v: number): void {
  for (let k = 0; k < 4; k++) b[p + k] = (v >>> (8 * k)) & 0xff;
}

/** Signed to unsigned for varints: 0, -1, 1, -2 ... → 0, 1, 2, 3 ... */
export const zigzag = (n: number): number => (n < 0 ? -2 * n - 1 : 2 * n);
/** zigzag's inverse. */
export const unzigzag = (z: number): number => (z % 2 === 1 ? -(z + 1) / 2 : z / 2);

/** Growable byte buffer with varint writers. */
export class ByteWriter {
  private buf: Uint8Array;
  length = 0;
  constructor(initial = 1024) {
    this.buf = new Uint8Array(initial);
  }
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** Unsigned LEB128 for 0 ≤ n ≤ 2^53. */
  uvar(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    this.reserve(8);
    while (n >= 0x80) {
      this.buf[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.length++] = n;
  }
  /** Zigzag-encoded signed varint. */
  svar(n: number): void {
    this.uvar(zigzag(n));
  }
  /** The bytes written so far (a view, valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  /** Takes the written bytes and empties the writer. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

/**
 * Copies from[start, start + n) to to[at..]: short runs byte by byte, since `set` needs a subarray
 * view (an allocation) per call and the appliers copy millions of runs of a few dozen bytes.
 */
export function copyBytes(to: Uint8Array, at: number, from: Uint8Array, start: number, n: number): void {
  if (n < 64) for (let i = 0; i < n; i++) to[at + i] = from[start + i]!;
  else to.set(from.subarray(start, start + n), at);
}

export class CorruptPatchError extends Error {
  override name = 'CorruptPatchError';
}

/** Reads back, from bytes in memory, the varints ByteWriter writes (a control stream the builder holds). */
export class VarintReader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.b.length;
  }
  uvar(): number {
    let n = 0;
    for (let mul = 1; ; mul *= 128) {
      const byte = this.b[this.pos++]!;
      n += (byte & 0x7f) * mul;
      if (byte < 0x80) return n;
    }
  }
  svar(): number {
    const z = this.uvar();
    return unzigzag(z);
  }
}

/**
 * Pulls exact byte counts and varints from a chunked async stream (a decompressed patch section).
 * Fails with CorruptPatchError when the stream ends early.
 */
export class ChunkReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private done = false;
  constructor(
    private readonly it: AsyncIterator<Uint8Array>,
    private readonly what: string,
  ) {}

  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.chunk = r.value;
      this.pos = 0;
    }
    return true;
  }

  async byte(): Promise<number> {
    if (this.pos >= this.chunk.length && !(await this.fill())) throw new CorruptPatchError(`${this.what} ends early`);
    return this.chunk[this.pos++]!;
  }

  /**
   * The next varint if the buffered chunk holds all of it, else -1 (nothing consumed): the applier
   * decodes millions of varints, and a promise per byte cost more than the rest of a delta's work.
   */
  uvarNow(): number {
    const c = this.chunk;
    let p = this.pos;
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 8 && p < c.length; i++) {
      const b = c[p++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = p;
        return n;
      }
      mul *= 0x80;
    }
    return -1;
  }

  /** The next zigzag varint if buffered whole, else undefined. */
  svarNow(): number | undefined {
    const z = this.uvarNow();
    if (z < 0) return undefined;
    return unzigzag(z);
  }

  /** Bytes buffered now: that many can be taken without waiting (a varint of up to 8 bytes needs 8). */
  buffered(): number {
    return this.chunk.length - this.pos;
  }

  /**
   * Adds up to `max` buffered bytes, each mod 256, onto into[at..] without waiting (possibly none);
   * returns how many. The delta appliers' difference bytes: a view per nonzero run (a million of
   * them in the node binary's delta) was most of what their loops gave the garbage collector.
   */
  addNow(into: Uint8Array, at: number, max: number): number {
    const c = this.chunk;
    const p = this.pos;
    const n = Math.min(max, c.length - p);
    for (let i = 0; i < n; i++) into[at + i] = (into[at + i]! + c[p + i]!) & 0xff;
    this.pos = p + n;
    return n;
  }

  /** As addNow, waiting for a chunk when none is buffered: at least 1 byte. */
  async add(into: Uint8Array, at: number, max: number): Promise<number> {
    if (this.pos >= this.chunk.length && !(await this.fill())) throw new CorruptPatchError(`${this.what} ends early`);
    return this.addNow(into, at, max);
  }

  /** Up to `max` buffered bytes without waiting (possibly none), as a view valid until the next call. */
  someNow(max: number): Uint8Array {
    const n = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  async uvar(): Promise<number> {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = await this.byte();
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 0x80;
    }
    throw new CorruptPatchError(`${this.what} has an overlong varint`);
  }

  async svar(): Promise<number> {
    const z = await this.uvar();
    return unzigzag(z);
  }

  /** Up to `max` bytes (at least 1), as a view valid until the next call. */
  async some(max: number): Promise<Uint8Array> {
    if (this.pos >= this.chunk.length && !(await this.fill())) throw new CorruptPatchError(`${this.what} ends early`);
    const n = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Copies up to `max` buffered bytes into `into` at `at` without waiting (possibly none); returns how many. */
  copyNow(into: Uint8Array, at: number, max: number): number {
    const n = Math.min(max, this.chunk.length - this.pos);
    copyBytes(into, at, this.chunk, this.pos, n);
    this.pos += n;
    return n;
  }

  /** Copies up to `max` bytes (at least 1) into `into` at `at`, waiting only when none is buffered; returns how many. */
  async copyInto(into: Uint8Array, at: number, max: number): Promise<number> {
    if (this.pos >= this.chunk.length && !(await this.fill())) throw new CorruptPatchError(`${this.what} ends early`);
    return this.copyNow(into, at, max);
  }

  /** Exactly n bytes, copied. */
  async exact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const part = await this.some(n - off);
      out.set(part, off);
      off += part.length;
    }
    return out;
  }

  /** True when the stream has no more bytes. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }
}

/** Sequential reader over a ByteSource with read-ahead, for scanning tar headers. */
export class SourceCursor {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  constructor(
    readonly source: ByteSource,
    private readonly readAhead = 1 << 20,
  ) {}
  /** Exactly `length` bytes at `offset` (must be inside the source). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset >= this.bufStart && offset + length <= this.bufStart + this.buf.length) {
      return this.buf.subarray(offset - this.bufStart, offset - this.bufStart + length);
    }
    if (length >= this.readAhead) return this.source.read(offset, length);
    const n = Math.min(this.source.size - offset, Math.max(length, this.readAhead));
    this.buf = await this.source.read(offset, n);
    this.bufStart = offset;
    return this.buf.subarray(0, length);
  }
}

/**
 * Random reads of an old file through a cache of aligned blocks (least recently used evicted).
 * A delta's old position jumps back and forth between nearby regions; a read-ahead window
 * re-read a whole window per jump (runtime-update: 8.6 s of a 41 s apply in file reads),
 * a block cache reads each block about once. Views never cross a block boundary.
 *
 * With a `plan` (blockPlan: for each change of the block asked for, when that block is asked for
 * next), the block evicted is the one needed last (Belady's choice) instead: the x86 applier knows
 * its whole sequence of old reads from the control triples (runtime-update's node binary: 26.5k
 * reads of 16 KiB with 256 blocks by least recent use, 15.4k by next use). The plan only chooses
 * what to evict: a sequence that departs from it reads the same bytes, just more often.
 */
export class BlockCache {
  private readonly blocks = new Map<number, Uint8Array>();
  /** with a plan: each cached block's slot in the two arrays below, its index and its next use (a position in the plan) */
  private readonly slots = new Map<number, number>();
  private readonly slotBlock: Int32Array;
  private readonly slotNext: Int32Array;
  private lastIndex = -1;
  private last: Uint8Array = new Uint8Array(0);
  /** with a plan: the block asked for last and its position in the plan */
  private asked = -1;
  private step = -1;
  private askedNext = NO_NEXT_USE;
  /** with a plan: the block neededLast chose */
  private evicted = -1;
  constructor(
    readonly source: ByteSource,
    readonly blockSize = 64 << 10,
    private readonly maxBlocks = 128,
    private readonly plan?: Int32Array,
  ) {
    this.slotBlock = new Int32Array(plan ? maxBlocks : 0);
    this.slotNext = new Int32Array(plan ? maxBlocks : 0);
  }

  /** With a plan: moves it on where `index` is another block than the last asked for, and notes the block's next use. */
  private follow(index: number): void {
    if (index === this.asked) return;
    this.asked = index;
    this.step++;
    // off the plan (never on the applier's own sequence): needed "never", evicted first
    const next = this.step < this.plan!.length ? this.plan![this.step]! : NO_NEXT_USE;
    const slot = this.slots.get(index);
    if (slot !== undefined) this.slotNext[slot] = next;
    this.askedNext = next;
  }

  /** Block `index` if cached (touched: the young end of the Map's order), else undefined. */
  private cached(index: number): Uint8Array | undefined {
    if (this.plan) this.follow(index);
    if (index === this.lastIndex) return this.last;
    const block = this.blocks.get(index);
    if (!block) return undefined;
    // Touch: re-inserting moves the block to the young end of the Map's order.
    this.blocks.delete(index);
    this.blocks.set(index, block);
    this.lastIndex = index;
    this.last = block;
    return block;
  }

  /** Up to `max` bytes at `offset` (at least 1, to the end of its block) if that block is cached, else undefined. */
  now(offset: number, max: number): Uint8Array | undefined {
    const index = Math.floor(offset / this.blockSize);
    const block = this.cached(index);
    if (!block) return undefined;
    const at = offset - index * this.blockSize;
    return block.subarray(at, Math.min(block.length, at + max));
  }

  /** As now(), copied into into[at..] (no view made): how many bytes, 0 when the block is not cached. */
  copyNow(offset: number, max: number, into: Uint8Array, at: number): number {
    const index = Math.floor(offset / this.blockSize);
    const block = this.cached(index);
    if (!block) return 0;
    const from = offset - index * this.blockSize;
    const n = Math.min(block.length - from, max);
    copyBytes(into, at, block, from, n);
    return n;
  }

  /** As copyNow, reading the block first when it is not cached: at least 1 byte. */
  async copy(offset: number, max: number, into: Uint8Array, at: number): Promise<number> {
    const n = this.copyNow(offset, max, into, at);
    if (n > 0) return n;
    const b = await this.get(offset, max);
    copyBytes(into, at, b, 0, b.length);
    return b.length;
  }

  /**
   * As copyNow, reading an uncached block first where the source can without waiting
   * (readIntoNow): 0 only where it cannot. runtime-update's apply misses ~16k times, and each
   * miss through the promise path was five promises and their turns of the microtask queue.
   */
  copyReadNow(offset: number, max: number, into: Uint8Array, at: number): number {
    const block = this.blockReadNow(offset);
    if (!block) return 0;
    const from = offset % this.blockSize;
    const n = Math.min(block.length - from, max);
    copyBytes(into, at, block, from, n);
    return n;
  }

  /**
   * The whole block holding `offset` (from offset − offset % blockSize), cached or read now where
   * the source can without waiting; undefined where it cannot. Valid until the cache's next read:
   * the x86 applier predicts a piece straight from it when the piece's old bytes lie in one block.
   */
  blockReadNow(offset: number): Uint8Array | undefined {
    const index = Math.floor(offset / this.blockSize);
    const hit = this.cached(index);
    if (hit || !this.source.readIntoNow || offset < 0 || offset >= this.source.size) return hit;
    const start = index * this.blockSize;
    const length = Math.min(this.blockSize, this.source.size - start);
    const victim = this.blocks.size >= this.maxBlocks ? this.victim() : undefined;
    const reused = victim === undefined ? undefined : this.blocks.get(victim)!;
    const block = reused && reused.length === length ? reused : new Uint8Array(length);
    if (!this.source.readIntoNow(block, start)) return undefined;
    if (victim !== undefined) this.evict(victim);
    this.insert(index, block);
    return block;
  }

  /** As now(), reading the block first when it is not cached. `offset` must be inside the source. */
  async get(offset: number, max: number): Promise<Uint8Array> {
    const hit = this.now(offset, max);
    if (hit) return hit;
    if (offset < 0 || offset >= this.source.size) throw new RangeError(`read at ${offset} outside ${this.source.size} bytes`);
    const index = Math.floor(offset / this.blockSize);
    const start = index * this.blockSize;
    const length = Math.min(this.blockSize, this.source.size - start);
    let block: Uint8Array;
    if (this.plan) this.follow(index);
    if (this.blocks.size >= this.maxBlocks) {
      const oldest = this.victim();
      const evicted = this.blocks.get(oldest)!;
      this.evict(oldest);
      // The evicted block's buffer is reused where the source can read into it.
      if (this.source.readInto && evicted.length === this.blockSize && length === this.blockSize) {
        await this.source.readInto(evicted, start);
        block = evicted;
      } else block = await this.source.read(start, length);
    } else block = await this.source.read(start, length);
    this.insert(index, block);
    const at = offset - start;
    return block.subarray(at, Math.min(block.length, at + max));
  }

  /** The block to evict for the next read: needed last with a plan, else the least recently used. */
  private victim(): number {
    return this.plan ? this.neededLast() : this.blocks.keys().next().value!;
  }

  private evict(index: number): void {
    this.blocks.delete(index);
    if (index === this.lastIndex) this.lastIndex = -1;
  }

  /** Caches a block just read (with a plan: in the evicted block's slot, or the next free one). */
  private insert(index: number, block: Uint8Array): void {
    this.blocks.set(index, block);
    if (this.plan) {
      // the next free slot, or the evicted block's
      let slot = this.slots.size;
      if (slot >= this.maxBlocks) {
        slot = this.slots.get(this.evicted)!;
        this.slots.delete(this.evicted);
      }
      this.slots.set(index, slot);
      this.slotBlock[slot] = index;
      this.slotNext[slot] = this.askedNext;
    }
    this.lastIndex = index;
    this.last = block;
  }

  /** The cached block whose next use is furthest (a scan of maxBlocks slots, once per read). */
  private neededLast(): number {
    let worst = 0;
    for (let s = 1; s < this.slotNext.length; s++) if (this.slotNext[s]! > this.slotNext[worst]!) worst = s;
    this.evicted = this.slotBlock[worst]!;
    return this.evicted;
  }
}

/** A plan's "not asked for again". */
const NO_NEXT_USE = 0x7fffffff;

/**
 * A BlockCache plan from the sequence of blocks a reader will ask for, in order (consecutive
 * repeats are one use, as the cache counts them): for each use, the position of that block's
 * next use, or never. `blocks` is how many blocks the source has (the index's bound).
 */
export function blockPlan(sequence: Int32Array, blocks: number): Int32Array {
  const plan = new Int32Array(sequence.length);
  const seen = new Int32Array(blocks).fill(NO_NEXT_USE);
  for (let i = sequence.length - 1; i >= 0; i--) {
    const b = sequence[i]!;
    plan[i] = seen[b]!;
    seen[b] = i;
  }
  return plan;
}
