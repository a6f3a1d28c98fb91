import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseImageName, repositoryOf, type ImageName } from '../deployment/image-name.js';
import { parseManifest } from '../deployment/manifest.js';
import { estimatePatchBytes } from '../signature/estimate.js';
import type { ImageSignature } from '../signature/types.js';
import { plan, type DeviceImageState, type KnownImage, type PlanDevice } from './plan.js';

const manifest = parseManifest(readFileSync(new URL('../../test/fixtures/manifests/fleet.json', import.meta.url), 'utf8'));

const hex = (s: string) => Buffer.from(s).toString('hex').padEnd(64, '0').slice(0, 64);
const digest = (s: string) => `sha256:${hex(s)}`;

/** A signature from layers given as lists of [path, size, content label]. */
function sig(id: string, layers: Array<{ id: string; files: Array<[string, number, string]> }>): ImageSignature {
  return {
    version: 1,
    configDigest: digest(`config-${id}`),
    repoTags: [],
    layers: layers.map((l) => ({
      diffID: digest(`layer-${l.id}`),
      size: l.files.reduce((n, f) => n + f[1] + 512, 0),
      files: l.files.map(([path, size, label]) => ({ path, size, hash: digest(`file-${label}`) })),
    })),
  };
}

const os = { id: 'os', files: [['usr/lib/libc.so', 2_000_000, 'libc'], ['usr/bin/sh', 100_000, 'sh']] as Array<[string, number, string]> };
const app = (v: string, changed: number) => ({
  id: `app-${v}`,
  files: Array.from({ length: 10 }, (_, i): [string, number, string] => [`app/lib${i}.so`, 1_000_000, i < changed ? `lib${i}-${v}` : `lib${i}-common`]),
});

function image(ref: string, signature: ImageSignature | null): KnownImage {
  const n = parseImageName(ref);
  return { repository: repositoryOf(n), tag: n.tag, configDigest: signature?.configDigest ?? null, signature };
}

// modbus-reader: 3.2.1 is the target; 3.1 differs in 2 libraries, 3.0 in 6.
const reader = (v: string, changed: number) => image(`fleetacr.azurecr.io/vessel/modbus-reader:${v}`, sig(`reader-${v}`, [os, app(v, changed)]));
const R321 = reader('3.2.1', 10);
const R31 = image('fleetacr.azurecr.io/vessel/modbus-reader:3.1', sig('reader-3.1', [os, { id: 'app-3.1', files: app('3.2.1', 10).files.map((f, i) => (i < 8 ? f : [f[0], f[1], `old-${i}`])) }]));
const R30 = image('fleetacr.azurecr.io/vessel/modbus-reader:3.0', sig('reader-3.0', [os, { id: 'app-3.0', files: app('3.2.1', 10).files.map((f, i) => (i < 4 ? f : [f[0], f[1], `older-${i}`])) }]));
const system = ['mcr.microsoft.com/azureiotedge-agent:1.5', 'mcr.microsoft.com/azureiotedge-hub:1.5'].map((r) => image(r, null));
const others = ['fleetacr.azurecr.io/vessel/telemetry:2.0', 'fleetacr.azurecr.io/lighter/edge-module:0.1.0'].map((r) => image(r, null));
const ENGINE = image('fleetacr.azurecr.io/vessel/engine-monitor:5.4', null);
const ENGINE_OLD = image('fleetacr.azurecr.io/vessel/engine-monitor:5.3', null);
const catalogue = [R321, R31, R30, ...system, ...others, ENGINE, ENGINE_OLD];

function lookup(n: ImageName): KnownImage | undefined {
  return catalogue.find((c) => c.repository === repositoryOf(n) && c.tag === n.tag);
}

const holds = (id: string, ...images: Array<[KnownImage, DeviceImageState]>): PlanDevice => ({ id, images: images.map(([image, state]) => ({ image, state })) });
const base = (...extra: Array<[KnownImage, DeviceImageState]>) => [...[...system, ...others].map((i): [KnownImage, DeviceImageState] => [i, 'present']), ...extra];

describe('plan', () => {
  // A fleet in mixed states against the realistic manifest.
  const fleet = [
    holds('ship-01', ...base([R30, 'present'], [R31, 'present'], [ENGINE, 'present'])), // best base 3.1
    holds('ship-02', ...base([R31, 'applied'], [ENGINE_OLD, 'present'])), // 3.1 through a bundle
    holds('ship-03', ...base([R30, 'present'], [ENGINE, 'present'])), // only 3.0
    holds('ship-04', ...base([R321, 'in_transit'], [ENGINE, 'applied'])), // already on its way
    holds('ship-05', ...base([R321, 'present'], [ENGINE, 'present'])), // up to date
    holds('ship-06', [system[0]!, 'present']), // a fresh device
    holds('ship-07', ...base([R31, 'failed'], [R30, 'present'], [ENGINE, 'present'])), // failed 3.1 is no base
  ];
  const p = plan({ modules: manifest.modules, devices: fleet, lookup });
  const status = (device: string, image: string) => p.devices.find((d) => d.deviceId === device)!.images.find((i) => i.image.includes(image))!;

  it('says per device what is present, in transit and missing', () => {
    expect(status('ship-05', 'modbus-reader').status).toBe('present');
    expect(status('ship-02', 'modbus-reader').status).toBe('missing');
    expect(status('ship-04', 'modbus-reader').status).toBe('in_transit');
    expect(status('ship-04', 'engine-monitor').status).toBe('present'); // applied counts as there
    expect(status('ship-07', 'modbus-reader').status).toBe('missing');
    expect(status('ship-06', 'azureiotedge-agent').status).toBe('present');
    expect(status('ship-06', 'azureiotedge-hub').status).toBe('missing');
    expect(p.devices.every((d) => d.images.length === 6)).toBe(true);
  });

  it('chooses the cheapest base for each missing image, with its estimate', () => {
    const s1 = status('ship-01', 'modbus-reader');
    expect(s1.base?.ref).toBe('fleetacr.azurecr.io/vessel/modbus-reader:3.1');
    expect(s1.estimatedBytes).toBe(estimatePatchBytes([R31.signature!], R321.signature!));
    expect(status('ship-03', 'modbus-reader').base?.ref).toBe('fleetacr.azurecr.io/vessel/modbus-reader:3.0');
    expect(status('ship-07', 'modbus-reader').base?.ref).toBe('fleetacr.azurecr.io/vessel/modbus-reader:3.0');
    expect(status('ship-06', 'modbus-reader').base).toBeNull();
    // without a target signature, an older tag of the same repository is the base, size unknown
    expect(status('ship-02', 'engine-monitor')).toMatchObject({ base: { ref: 'fleetacr.azurecr.io/vessel/engine-monitor:5.3' }, estimatedBytes: null });
  });

  it('lists each (base, target) bundle once, for every device that needs it, and no more', () => {
    const summary = p.bundles.map((b) => `${b.base?.ref.split('/').pop() ?? 'full'} -> ${b.target.ref.split('/').pop()}: ${b.devices.join(',')}`).sort();
    expect(summary).toEqual([
      'engine-monitor:5.3 -> engine-monitor:5.4: ship-02',
      'full -> azureiotedge-hub:1.5: ship-06',
      'full -> edge-module:0.1.0: ship-06',
      'full -> engine-monitor:5.4: ship-06',
      'full -> modbus-reader:3.2.1: ship-06',
      'full -> telemetry:2.0: ship-06',
      'modbus-reader:3.0 -> modbus-reader:3.2.1: ship-03,ship-07',
      'modbus-reader:3.1 -> modbus-reader:3.2.1: ship-01,ship-02',
    ]);
  });

  it('shares one bundle when the base another device needs is within the slack of a device\'s best', () => {
    const nearly = image('fleetacr.azurecr.io/vessel/modbus-reader:3.1.1', sig('reader-3.1.1', [os, { id: 'app-3.1.1', files: app('3.2.1', 10).files.map((f, i) => (i < 8 || i === 9 ? f : [f[0], f[1], `old-${i}`])) }]));
    const devices = [holds('a', [R31, 'present'], [nearly, 'present']), holds('b', [R31, 'present'])];
    const modules = manifest.modules.filter((m) => m.module === 'modbusReader');
    // 3.1.1 needs half the bytes 3.1 does; a slack of 1.2 accepts 3.1 for device a too
    const shared = plan({ modules, devices, lookup, slack: 1.2 });
    expect(shared.bundles.map((b) => b.base?.ref)).toEqual(['fleetacr.azurecr.io/vessel/modbus-reader:3.1']);
    const strict = plan({ modules, devices, lookup, slack: 0 });
    expect(strict.bundles).toHaveLength(2);
  });

  it('takes the estimator as a parameter', () => {
    const calls: number[] = [];
    plan({ modules: manifest.modules, devices: fleet, lookup, estimate: (b, t) => (calls.push(b.length), estimatePatchBytes(b, t)) });
    expect(calls.length).toBeGreaterThan(0);
  });

  it('finds the minimal bundle count on random fleets (checked by brute force)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const bases = Array.from({ length: 5 }, (_, k) =>
      image(`fleetacr.azurecr.io/vessel/modbus-reader:2.${k}`, sig(`r2${k}`, [os, { id: `a2${k}`, files: app('3.2.1', 10).files.map((f, i) => (rand() < 0.6 ? f : [f[0], f[1], `x${k}-${i}`])) }])),
    );
    const modules = manifest.modules.filter((m) => m.module === 'modbusReader');
    for (let round = 0; round < 20; round++) {
      const devices = Array.from({ length: 6 }, (_, d) => holds(`d${d}`, ...bases.filter(() => rand() < 0.5).map((b): [KnownImage, DeviceImageState] => [b, 'present'])));
      const slack = 0.3;
      const p = plan({ modules, devices, lookup, slack });
      // acceptable bases per device, as the planner's contract defines them
      const options = devices.map((d) => {
        const c = [{ key: 'full', est: estimatePatchBytes([], R321.signature!) }, ...d.images.map((h) => ({ key: h.image.tag!, est: estimatePatchBytes([h.image.signature!], R321.signature!) }))];
        const best = Math.min(...c.map((x) => x.est));
        return c.filter((x) => x.est <= best * (1 + slack)).map((x) => x.key);
      });
      let min = Infinity;
      const walk = (i: number, used: Set<string>) => {
        if (used.size >= min) return;
        if (i === options.length) return void (min = used.size);
        for (const k of options[i]!) walk(i + 1, new Set([...used, k]));
      };
      walk(0, new Set());
      expect(p.bundles.length).toBe(min);
      for (const d of p.devices) expect(options[Number(d.deviceId.slice(1))]).toContain(d.images[0]!.base?.ref.split(':').pop() ?? 'full');
    }
  });
});
