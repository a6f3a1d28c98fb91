import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseImageName } from './image-name.js';
import { IOT_HUB_LIMITS, lintManifest, twinSectionSize, utf8Length } from './lint.js';
import { agentDesired, ManifestError, parseManifest, readCreateOptions, type JsonObject } from './manifest.js';
import { rewriteForDevice, splitUtf8 } from './rewrite.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/manifests/${name}`, import.meta.url), 'utf8');

describe('parseImageName', () => {
  it('applies Docker defaults so spellings of one image compare equal', () => {
    expect(parseImageName('nginx')).toEqual({ registry: 'docker.io', path: 'library/nginx', tag: 'latest', digest: null });
    expect(parseImageName('localhost:5000/team/app:1.2')).toEqual({ registry: 'localhost:5000', path: 'team/app', tag: '1.2', digest: null });
    expect(parseImageName(`r.io/a@sha256:${'a'.repeat(64)}`).digest).toBe(`sha256:${'a'.repeat(64)}`);
  });
  it('rejects malformed names', () => {
    expect(() => parseImageName('Bad/Name:1')).toThrow(/invalid repository name/);
    expect(() => parseImageName('app@sha256:123')).toThrow(/invalid digest/);
  });
});

describe('parseManifest', () => {
  it('finds the system modules and every custom module image', () => {
    const m = parseManifest(fixture('fleet.json'));
    expect(m.schemaVersion).toBe('1.1');
    expect(m.modules.map((x) => `${x.system ? 'system:' : ''}${x.module}=${x.image}`)).toEqual([
      'system:edgeAgent=mcr.microsoft.com/azureiotedge-agent:1.5',
      'system:edgeHub=mcr.microsoft.com/azureiotedge-hub:1.5',
      'modbusReader=fleetacr.azurecr.io/vessel/modbus-reader:3.2.1',
      'telemetryForwarder=fleetacr.azurecr.io/vessel/telemetry:2.0',
      'engineMonitor=fleetacr.azurecr.io/vessel/engine-monitor:5.4',
      'lighter=fleetacr.azurecr.io/lighter/edge-module:0.1.0',
    ]);
  });

  it('joins split createOptions in order', () => {
    const m = parseManifest(fixture('fleet.json'));
    const settings = (agentDesired(m.content).modules as JsonObject).modbusReader as JsonObject;
    const joined = readCreateOptions(settings.settings as JsonObject, 'x')!;
    expect(JSON.parse(joined).Env).toHaveLength(30);
  });

  it.each([
    ['not-json.json', /manifest is not valid JSON/],
    ['missing-image.json', /modules\.engineMonitor\.settings\.image is missing/],
    ['createoptions-gap.json', /modules\.modbusReader\.settings: createOptions chunks have a gap: createOptions01 is missing/],
  ])('rejects %s with a specific error', (file, msg) => {
    expect(() => parseManifest(fixture(file))).toThrow(ManifestError);
    expect(() => parseManifest(fixture(file))).toThrow(msg);
  });

  it('rejects other shapes specifically', () => {
    expect(() => parseManifest('[]')).toThrow(/no modulesContent/);
    const m = JSON.parse(fixture('fleet.json'));
    m.modulesContent.$edgeAgent['properties.desired'].schemaVersion = '2.0';
    expect(() => parseManifest(JSON.stringify(m))).toThrow(/schemaVersion "2.0" is not supported/);
    m.modulesContent.$edgeAgent['properties.desired'].schemaVersion = '1.1';
    m.modulesContent.$edgeAgent['properties.desired'].modules.lighter.settings.createOptions = '{"HostConfig":';
    expect(() => parseManifest(JSON.stringify(m))).toThrow(/modules\.lighter\.settings: createOptions is not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ content: { modulesContent: { $edgeAgent: { 'properties.desired.modules.x': {} } } } }))).toThrow(/layered/);
  });
});

describe('rewriteForDevice', () => {
  it('points every module at the local registry with imagePullPolicy never and keeps the original intact', () => {
    const m = parseManifest(fixture('fleet.json'));
    const before = JSON.stringify(m.content);
    const r = rewriteForDevice(m, { localRegistry: 'localhost:5000' });
    expect(JSON.stringify(m.content)).toBe(before);
    const reparsed = parseManifest(JSON.stringify(r.content));
    expect(reparsed.modules.map((x) => x.image)).toEqual([
      'localhost:5000/azureiotedge-agent:1.5',
      'localhost:5000/azureiotedge-hub:1.5',
      'localhost:5000/vessel/modbus-reader:3.2.1',
      'localhost:5000/vessel/telemetry:2.0',
      'localhost:5000/vessel/engine-monitor:5.4',
      'localhost:5000/lighter/edge-module:0.1.0',
    ]);
    const d = agentDesired(r.content);
    for (const spec of Object.values(d.modules as JsonObject)) expect((spec as JsonObject).imagePullPolicy).toBe('never');
    expect(((d.systemModules as JsonObject).edgeHub as JsonObject).imagePullPolicy).toBe('never');
    expect(((d.runtime as JsonObject).settings as JsonObject).registryCredentials).toBeUndefined();
  });

  it('re-splits createOptions into chunks no longer than the limit, losslessly', () => {
    const m = parseManifest(fixture('fleet.json'));
    const original = readCreateOptions(((agentDesired(m.content).modules as JsonObject).modbusReader as JsonObject).settings as JsonObject, 'x')!;
    for (const chunkBytes of [IOT_HUB_LIMITS.valueBytes, 300]) {
      const r = rewriteForDevice(m, { localRegistry: 'localhost:5000', chunkBytes });
      const settings = ((agentDesired(r.content).modules as JsonObject).modbusReader as JsonObject).settings as JsonObject;
      const keys = Object.keys(settings).filter((k) => k.startsWith('createOptions'));
      expect(keys.length).toBe(Math.ceil(original.length / chunkBytes));
      for (const k of keys) expect(utf8Length(settings[k] as string)).toBeLessThanOrEqual(chunkBytes);
      expect(readCreateOptions(settings, 'x')).toBe(original);
    }
  });

  it('never cuts a multi-byte character', () => {
    const s = 'é'.repeat(5) + '😀'.repeat(3);
    const parts = splitUtf8(s, 5);
    expect(parts.join('')).toBe(s);
    for (const p of parts) expect(utf8Length(p)).toBeLessThanOrEqual(5);
  });

  it('refuses a registry that is not host[:port]', () => {
    expect(() => rewriteForDevice(parseManifest(fixture('fleet.json')), { localRegistry: 'http://x/' })).toThrow(/invalid local registry/);
  });
});

describe('lintManifest', () => {
  it('passes the rewritten fleet manifest', () => {
    const r = rewriteForDevice(parseManifest(fixture('fleet.json')), { localRegistry: 'localhost:5000' });
    expect(lintManifest(r.content)).toEqual([]);
  });

  it('counts a section as IoT Hub does: keys and strings by length, numbers 8, booleans 4', () => {
    expect(twinSectionSize({ ab: 'xyz', n: 1, b: true, o: { k: 'é' } })).toBe(2 + 3 + 1 + 8 + 1 + 4 + 1 + 1 + 2);
  });

  it('flags long values, oversized sections, bad keys and deep nesting', () => {
    const m = JSON.parse(fixture('fleet.json'));
    m.modulesContent.telemetryForwarder['properties.desired'] = {
      blob: 'x'.repeat(5000),
      ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`part${i}`, 'y'.repeat(4000)])),
      'bad.key': 1,
      deep: { a: { b: { c: { d: { e: { f: { g: { h: { i: { j: 1 } } } } } } } } } },
    };
    const rules = lintManifest(m).map((i) => `${i.section}:${i.rule}`);
    expect(rules).toEqual(
      expect.arrayContaining(['telemetryForwarder:value-size', 'telemetryForwarder:section-size', 'telemetryForwarder:key-chars', 'telemetryForwarder:depth']),
    );
    expect(rules.filter((r) => r.endsWith('value-size'))).toHaveLength(1);
  });
});
