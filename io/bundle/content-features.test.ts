import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pack, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { parseImageSignature } from '../../core/signature/schema.js';
import { LayerContentFeatures } from './content-features.js';
import { scanLayer } from './layer-scan.js';

function tar(entries: Array<{ name: string; body: Buffer }>): Readable {
  const p = pack();
  for (const { name, body } of entries) p.entry({ name, size: body.length } as Header, body);
  p.finalize();
  return p as unknown as Readable;
}

describe('content features of a layer', () => {
  it('gauges what each file packs to and sketches the files big enough to sketch', async () => {
    const line = (i: number) => `export const handler${i} = (req) => ({ route: '/r${i}', n: req.n * ${i} });\n`;
    const script = Buffer.from(Array.from({ length: 40 }, (_, i) => line(i)).join(''));
    const text = Buffer.from(Array.from({ length: 3000 }, (_, i) => line(i)).join('')); // ~230 KiB
    const random = randomBytes(6 << 20);
    const { files } = await scanLayer(
      tar([
        { name: 'app/a.js', body: script },
        { name: 'app/b.js', body: script },
        { name: 'app/text.js', body: text },
        { name: 'app/model.bin', body: random },
      ]),
      new LayerContentFeatures(),
    );
    const [a, b, t, m] = files;
    // Small files are gauged together, at their block's ratio.
    expect(a!.packed).toBe(b!.packed);
    expect(a!.packed!).toBeLessThan(script.length / 4);
    expect(a!.sketch).toBeUndefined();
    expect(t!.packed!).toBeLessThan(text.length / 5);
    expect(t!.sketch).toBeDefined();
    expect(m!.packed!).toBeGreaterThan(random.length * 0.99);
    expect(m!.packed!).toBeLessThan(random.length * 1.01);
    expect(m!.sketchBits).toBeGreaterThanOrEqual(10);
    const sig = parseImageSignature({ version: 2, configDigest: `sha256:${'0'.repeat(64)}`, repoTags: [], layers: [{ diffID: `sha256:${'1'.repeat(64)}`, size: 1, files }] }, 'sig');
    expect(sig.layers[0]!.files[3]!.sketch).toBe(m!.sketch);
  });

  it('refuses a signature whose sketch is not base64 or lacks its rate', () => {
    const sig = (f: object) => ({ version: 2, configDigest: `sha256:${'0'.repeat(64)}`, repoTags: [], layers: [{ diffID: `sha256:${'1'.repeat(64)}`, size: 1, files: [{ path: 'a', size: 1, ...f }] }] });
    expect(() => parseImageSignature(sig({ sketch: 'AAAA' }), 'sig')).toThrow(/sketch and sketchBits/);
    expect(() => parseImageSignature(sig({ sketch: '<>', sketchBits: 10 }), 'sig')).toThrow(/not an image signature/);
  });
});
