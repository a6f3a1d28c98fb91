import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptPatchError } from '../../core/delta/bytes.js';
import { SECTION_NAMES, type CarriedLayer, type SectionName, type SectionSize } from '../../core/delta/format.js';
import { CM_BEST, CM_DECODE_RATE, cmPays, layerReaders, LINK_RATE, SectionStore, STREAM, type Stream } from './sections.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

/** JavaScript-like text: words drawn at random from a small vocabulary (a fixed seed). */
const text = (n: number) => {
  const words = ['function', 'return', 'const', ' ', '\n  ', '(', ')', '{', '}', 'value', 'key', ';', '=', 'lodash', '.', ',', 'if', 'null'];
  let seed = 1;
  let s = '';
  while (s.length < n) s += words[(seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % words.length];
  return new TextEncoder().encode(s.slice(0, n));
};

/** Writes one layer whose lit section is `lit` (the others one byte each) into a patch-like file. */
async function oneLayer(lit: Uint8Array, how: Stream) {
  const dir = await fs.mkdtemp(join(tmpdir(), 'lighter-sections-'));
  dirs.push(dir);
  const store = new SectionStore(dir, how);
  const layer = store.openLayer();
  const sections = {} as Record<SectionName, SectionSize>;
  for (const name of SECTION_NAMES) {
    const w = layer.section(name);
    await w.write(name === 'lit' ? lit : Uint8Array.of(1));
    sections[name] = await w.finish();
  }
  const at = await layer.finish();
  const file = join(dir, 'patch');
  await fs.writeFile(file, Buffer.concat(await Promise.all(store.files.map((f) => fs.readFile(f)))));
  const l: CarriedLayer = { from: 'patch', diffID: `sha256:${'0'.repeat(64)}`, size: 0, ...at, sections };
  return { file, l };
}

async function readAll(file: string, l: CarriedLayer): Promise<Uint8Array> {
  const r = layerReaders(file, 0, l, 'layer').lit;
  const parts: Uint8Array[] = [];
  while (!(await r.atEnd())) parts.push(await r.some(1 << 20));
  return Buffer.concat(parts);
}

describe('section coding', () => {
  it('codes a text section with cm where it beats brotli when dense, and reads it back exactly', async () => {
    const lit = text(60_000);
    const { file, l } = await oneLayer(lit, STREAM.dense);
    expect(l.sections.lit.coding).toBe('cm');
    expect(l.sections.ops.coding).toBeUndefined();
    expect(Buffer.from(await readAll(file, l)).equals(Buffer.from(lit))).toBe(true);
  });

  it('keeps brotli in a first image, and in a delta not asked to be dense', async () => {
    const lit = text(60_000);
    for (const how of [STREAM.firstImage, STREAM.delta]) {
      const { file, l } = await oneLayer(lit, how);
      expect(l.sections.lit.coding).toBeUndefined();
      expect(Buffer.from(await readAll(file, l)).equals(Buffer.from(lit))).toBe(true);
    }
  });

  it('chooses cm by the link time it saves against the decode time it adds, unless the budget is lifted', () => {
    // base-on-device's literal section: 2,917,594 B raw, brotli 11 487,346 B, cm 393,838 B
    const raw = 2_917_594;
    expect(cmPays('pays', raw, 487_346)).toBe(false); // even a 0-byte cm could not buy 9.7 s of decoding
    // a section brotli barely compresses: worth trying only if cm could beat CM_BEST × brotli by the break-even
    // (runtime-update's build cm-coded such sections for 8.5 s and kept none)
    expect(cmPays('pays', raw, raw * 0.6)).toBe(false);
    expect(cmPays('pays', raw, Math.ceil((raw / CM_DECODE_RATE) * LINK_RATE / (1 - CM_BEST)) + 1)).toBe(true);
    expect(cmPays('smaller', raw, raw * 0.6)).toBe(true);
    expect(cmPays('pays', raw, 487_346, 393_838)).toBe(false);
    expect(cmPays('smaller', raw, 487_346, 393_838)).toBe(true);
    expect(cmPays('never', raw, 487_346, 393_838)).toBe(false);
    // the break-even: saved bytes at the link rate = raw bytes at the decode rate
    const even = Math.ceil((raw / CM_DECODE_RATE) * LINK_RATE);
    expect(cmPays('pays', raw, even + 1000, 1000)).toBe(true);
    expect(cmPays('pays', raw, even + 1000, 1002)).toBe(false);
    // a real margin: within 3% of brotli is not worth a second decoder, dense or not
    expect(cmPays('smaller', raw, 487_346, 475_000)).toBe(false);
    expect(cmPays('smaller', 4000, 3000, 100)).toBe(false);
  });

  it('fails a corrupt cm section as a corrupt patch, and refuses one declared larger than a patch writes', async () => {
    const { file, l } = await oneLayer(text(60_000), STREAM.dense);
    const bytes = await fs.readFile(file);
    const litStart = SECTION_NAMES.slice(0, -1).reduce((n, s) => n + l.sections[s].length, 0);
    bytes[litStart + 40] = bytes[litStart + 40]! ^ 0x55;
    await fs.writeFile(file, bytes);
    await expect(readAll(file, l)).rejects.toThrow(CorruptPatchError);
    await expect(readAll(file, l)).rejects.toThrow(/section lit does not decode/);
    const huge = { ...l, sections: { ...l.sections, lit: { ...l.sections.lit, rawLength: 64 << 20 } } };
    await expect(readAll(file, huge)).rejects.toThrow(/beyond what a patch writes/);
  });

  it("holds a brotli section's last bytes until its stream has ended, so an unterminated one fails at its last byte", async () => {
    // Handing the last bytes on at once let a reader stop at the section's end with the decoder
    // (and its window) alive to the end of the layer, and took a stream that never ends as whole.
    const lit = text(60_000);
    const { file, l } = await oneLayer(lit, STREAM.delta);
    expect(l.sections.lit.coding).toBeUndefined();
    // every byte of lit, flushed, without the stream's last meta-block
    const enc = zlib.createBrotliCompress();
    const parts: Buffer[] = [];
    enc.on('data', (b: Buffer) => parts.push(b));
    enc.write(lit);
    await new Promise<void>((done) => enc.flush(zlib.constants.BROTLI_OPERATION_FLUSH, () => done()));
    enc.destroy();
    const open = Buffer.concat(parts);
    expect(zlib.brotliDecompressSync(open, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }).equals(Buffer.from(lit))).toBe(true);
    const bytes = await fs.readFile(file);
    const litStart = SECTION_NAMES.slice(0, -1).reduce((n, s) => n + l.sections[s].length, 0);
    await fs.writeFile(file, Buffer.concat([bytes.subarray(0, litStart), open]));
    const unterminated = { ...l, sections: { ...l.sections, lit: { ...l.sections.lit, length: open.length } } };
    await expect(layerReaders(file, 0, unterminated, 'layer').lit.exact(lit.length)).rejects.toThrow(/section lit does not decompress/);
  });

  it("codes a delta's section over 4 MiB in blocks of one 4 MiB window, so that both cores compress it", async () => {
    const lit = text((4 << 20) + 100_000);
    const { file, l } = await oneLayer(lit, { ...STREAM.delta, quality: 5 });
    expect(STREAM.delta.block).toBe(1 << STREAM.delta.lgwin);
    expect(l.sections.lit).toMatchObject({ coding: 'blocks', block: 4 << 20, rawLength: lit.length });
    expect(l.sections.lit.blocks).toHaveLength(2);
    expect(Buffer.from(await readAll(file, l)).equals(Buffer.from(lit))).toBe(true);
  });

  it('codes a large first-image section in independent blocks, the same bytes whatever the timing, and reads it back exactly', async () => {
    // 9 MiB: text, then random bytes (the block holding them falls to the incompressible quality).
    const lit = new Uint8Array(9 << 20);
    lit.set(text(6 << 20));
    let seed = 7;
    for (let i = 6 << 20; i < lit.length; i++) lit[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    const how: Stream = { ...STREAM.firstImage, quality: 5, lgwin: 20, block: 2 << 20 };
    const a = await oneLayer(lit, how);
    expect(a.l.sections.lit).toMatchObject({ coding: 'blocks', block: 2 << 20, rawLength: lit.length });
    expect(a.l.sections.lit.blocks).toHaveLength(5);
    expect(a.l.sections.ops.coding).toBeUndefined();
    expect(Buffer.from(await readAll(a.file, a.l)).equals(Buffer.from(lit))).toBe(true);
    const b = await oneLayer(lit, how);
    expect((await fs.readFile(b.file)).equals(await fs.readFile(a.file))).toBe(true);
    // A block's stream corrupt, or blocks that do not match what they claim, fail as a corrupt patch.
    const bytes = await fs.readFile(a.file);
    const litStart = SECTION_NAMES.slice(0, -1).reduce((n, s) => n + a.l.sections[s].length, 0);
    const third = litStart + a.l.sections.lit.blocks![0]! + a.l.sections.lit.blocks![1]! + 10;
    bytes[third] = bytes[third]! ^ 0x55;
    await fs.writeFile(a.file, bytes);
    await expect(readAll(a.file, a.l)).rejects.toThrow(/section lit block 2 (does not decompress|decompresses to)/);
  });
});
