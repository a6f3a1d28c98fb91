import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApplyState, defaultStateDir } from './state.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-apply-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ApplyState', () => {
  it('records the last applied version atomically and refuses a damaged record', async () => {
    const state = await ApplyState.open(join(dir, 'b'));
    expect(await state.lastApplied()).toBeNull();
    await state.recordApplied({ version: 3, id: `sha256:${'a'.repeat(64)}`, appliedAt: '2026-01-01T00:00:00Z' });
    expect(await state.lastApplied()).toMatchObject({ version: 3 });
    writeFileSync(join(dir, 'b', 'applied.json'), '{"version": 3');
    await expect(state.lastApplied()).rejects.toThrow(/damaged/);
  });

  it('names work files by digest only', async () => {
    const state = await ApplyState.open(join(dir, 'c'));
    await expect(state.workArea('../../etc')).rejects.toThrow(/invalid bundle id/);
    const work = await state.workArea(`sha256:${'b'.repeat(64)}`);
    expect(() => work.pathFor('../x', '.tar')).toThrow(/invalid/);
  });

  it('an empty LIGHTER_DATA_DIR means the default data directory, not the current one', () => {
    const saved = { data: process.env.LIGHTER_DATA_DIR, xdg: process.env.XDG_DATA_HOME };
    try {
      process.env.LIGHTER_DATA_DIR = '';
      process.env.XDG_DATA_HOME = '/x/share';
      expect(defaultStateDir()).toBe('/x/share/lighter/apply');
    } finally {
      for (const [k, v] of [['LIGHTER_DATA_DIR', saved.data], ['XDG_DATA_HOME', saved.xdg]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
