import { describe, expect, it } from 'vitest';
import { fitReport, reportSize, twinPatch, twinRuleViolation, twinSize, MAX_RESULTS, REPORT_BUDGET_BYTES, TWIN_LIMITS, type Report, type Result } from './report.js';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function result(i: number, message = 'x'.repeat(300)): Result {
  return { bundleId: D(i), version: i, file: `${i}.bundle`, result: 'failed', reason: 'store-full', message, target: { ref: `registry.example:5000/fleet/app-${i}:v${i}`, id: D(i + 1) }, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', durationMs: 1000 };
}

function report(results: Result[], images = 10): Report {
  return {
    schema: 1,
    moduleVersion: '0.1.0',
    deviceId: 'ship-1',
    moduleId: 'lighter',
    receiptKey: 'MCowBQYDK2VwAyEA' + 'A'.repeat(43) + '=',
    receiptKeyId: D(7),
    images: Array.from({ length: images }, (_, i) => ({ ref: `fleet/app-${i}:v1`, id: D(i) })),
    results,
    store: { usedBytes: 1e9, freeBytes: 2e9, quotaBytes: 3e9 },
    lastVersion: 5,
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('twin report', () => {
  it('counts sizes as IoT Hub does', () => {
    expect(twinSize({ ab: 'cd', n: 1, b: true, o: { x: ['yy'] } })).toBe(2 + 2 + 1 + 8 + 1 + 4 + 1 + 1 + 2);
    expect(twinSize('é')).toBe(2);
  });

  it('keeps every result when they fit, newest first', () => {
    const r = report([result(3, 'short'), result(2, 'short')]);
    expect(fitReport(r).lighter.results.map((x) => x.version)).toEqual([3, 2]);
  });

  it('drops the oldest results until it fits 32 KB with room to spare', () => {
    const many = Array.from({ length: 40 }, (_, i) => result(100 - i));
    const props = fitReport(report(many, 170));
    const kept = props.lighter.results;
    expect(kept.length).toBeLessThan(MAX_RESULTS);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept[0]!.version).toBe(100); // newest kept
    expect(reportSize(props)).toBeLessThanOrEqual(REPORT_BUDGET_BYTES);
    expect(Buffer.byteLength(JSON.stringify(props))).toBeLessThan(TWIN_LIMITS.totalBytes);
    // one more result would not have fitted
    expect(reportSize({ lighter: { ...props.lighter, results: many.slice(0, kept.length + 1) } })).toBeGreaterThan(REPORT_BUDGET_BYTES);
  });

  it('sends no nulls (IoT Hub would delete those keys)', () => {
    const r = { ...report([{ ...result(1), bundleId: null, version: null }]), lastVersion: null };
    const patch = twinPatch(r) as { lighter: Record<string, unknown> & { results: Array<Record<string, unknown>> } };
    expect('lastVersion' in patch.lighter).toBe(false);
    expect('bundleId' in patch.lighter.results[0]!).toBe(false);
    expect(JSON.stringify(patch)).not.toContain('null');
  });

  it('refuses what IoT Hub would refuse', () => {
    expect(twinRuleViolation({ 'a.b': 1 })).toMatch(/key/);
    expect(twinRuleViolation({ $x: 1 })).toMatch(/key/);
    expect(twinRuleViolation({ 'a b': 1 })).toMatch(/key/);
    expect(twinRuleViolation({ a: 'x'.repeat(4097) })).toMatch(/4096/);
    let deep: unknown = 1;
    for (let i = 0; i < 12; i++) deep = { d: deep };
    expect(twinRuleViolation(deep)).toMatch(/deeper/);
    expect(() => fitReport(report([], 400))).toThrow(/does not fit/);
    expect(() => fitReport({ ...report([]), moduleVersion: '' })).toThrow();
  });
});
