// An image's signature (core/signature/types.ts): its layers' diffIDs and sizes and every file's
// path, size, content hash and content features (content-features.ts), read once through the
// image's verified layer streams.
import type { ImageSignature } from '../../core/signature/types.js';
import type { ImageSource } from '../image/types.js';
import { LayerContentFeatures } from './content-features.js';
import { scanLayer } from './layer-scan.js';

export async function imageSignature(source: ImageSource): Promise<ImageSignature> {
  const info = await source.info();
  const layers: ImageSignature['layers'] = [];
  for (const [i, layer] of info.layers.entries()) {
    const { files, tarSize } = await scanLayer(await source.openLayerTar(i), new LayerContentFeatures());
    layers.push({ diffID: layer.diffID, size: tarSize, files });
  }
  return { version: 2, configDigest: info.configDigest, repoTags: info.repoTags, layers };
}
