// A small fleet in a real inventory for deployment and transport tests: three edge devices, the
// test images recorded with their signatures and archives, and a manifest naming app v2. Devices
// one and two hold app v1 (they share one v1 -> v2 bundle); device three holds only the base.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { imageSignature } from '../../io/bundle/signature.js';
import { openSource } from '../../io/image/transport.js';
import { parseDeviceList } from '../../main/inventory/import-devices.js';
import { openInventory } from '../../main/inventory/open.js';
import { Inventory, type ImageInput } from '../../main/inventory/store.js';
import { buildTestImages, type TestImage, type TestImages } from './images.js';

export const SYSTEM_IMAGES = ['mcr.microsoft.com/azureiotedge-agent:1.5', 'mcr.microsoft.com/azureiotedge-hub:1.5'];

export function edgeManifest(images: Record<string, string>): string {
  const docker = (image: string) => ({ type: 'docker', status: 'running', restartPolicy: 'always', settings: { image, createOptions: '{}' } });
  return JSON.stringify({
    modulesContent: {
      $edgeAgent: {
        'properties.desired': {
          schemaVersion: '1.1',
          runtime: { type: 'docker', settings: {} },
          systemModules: { edgeAgent: { type: 'docker', settings: { image: SYSTEM_IMAGES[0] } }, edgeHub: docker(SYSTEM_IMAGES[1]!) },
          modules: Object.fromEntries(Object.entries(images).map(([name, image]) => [name, docker(image)])),
        },
      },
      $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {}, storeAndForwardConfiguration: { timeToLiveSecs: 7200 } } },
    },
  });
}

export async function describeImage(img: TestImage): Promise<ImageInput> {
  const ref = `docker-archive:${img.archive}`;
  const source = await openSource(ref);
  try {
    const signature = await imageSignature(source);
    return { name: img.tag, configDigest: signature.configDigest, size: signature.layers.reduce((n, l) => n + l.size, 0), signature, sourceRef: ref };
  } finally {
    await source.close();
  }
}

/**
 * What the fleet's devices hold before a deployment, as their reports would have recorded it: the
 * IoT Edge system images everywhere, app v1 on the first two devices, only the base on the others;
 * app v2 (what the manifest asks for) catalogued with its signature and archive.
 */
export function recordHoldings(inv: Inventory, devices: readonly string[], described: { base: ImageInput; appV1: ImageInput; appV2: ImageInput }): void {
  devices.forEach((d, i) => {
    for (const name of SYSTEM_IMAGES) inv.recordImage(d, { name });
    inv.recordImage(d, i < 2 ? described.appV1 : described.base);
  });
  inv.catalogImage(described.appV2);
}

export interface Fleet {
  dataDir: string;
  dbFile: string;
  images: TestImages;
  described: { base: ImageInput; appV1: ImageInput; appV2: ImageInput };
  devices: [string, string, string];
  manifest: string;
}

/** Creates the fleet's inventory in `dataDir/lighter.db`; `prefix` keeps device ids apart per test file. */
export async function seedFleet(dataDir: string, prefix: string): Promise<Fleet> {
  mkdirSync(dataDir, { recursive: true });
  const images = buildTestImages();
  const described = { base: await describeImage(images.base), appV1: await describeImage(images.appV1), appV2: await describeImage(images.appV2) };
  const devices: [string, string, string] = [`${prefix}-ship-1`, `${prefix}-ship-2`, `${prefix}-ship-3`];
  const dbFile = join(dataDir, 'lighter.db');
  const db = await openInventory(dbFile);
  try {
    const inv = new Inventory(db, 'ana');
    inv.importDevices(
      parseDeviceList(JSON.stringify(devices.map((deviceId) => ({ deviceId, capabilities: { iotEdge: true }, tags: { group: `${prefix}-north` } }))), { hub: 'fleet-hub' }),
      'file',
      'fleet.json',
    );
    recordHoldings(inv, devices, described);
  } finally {
    db.close();
  }
  return { dataDir, dbFile, images, described, devices, manifest: edgeManifest({ app: images.appV2.tag }) };
}
