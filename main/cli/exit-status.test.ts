import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUNDLE_EXIT, exitStatusTable } from './exit-status.js';

describe('exit statuses', () => {
  it('give every bundle refusal its own status, apart from 0-2', () => {
    const statuses = Object.values(BUNDLE_EXIT);
    expect(new Set(statuses).size).toBe(statuses.length);
    expect(statuses.every((s) => s > 2 && s < 126)).toBe(true); // 126+ are the shell's
  });

  it('are the table docs/cli.md documents', () => {
    const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| (\d+) \| (.+) \|$/gm)].map((m) => `${m[1]} ${m[2]}`);
    const table = exitStatusTable()
      .split('\n')
      .map((l) => l.trim().replace(/^(\d+)\s+/, '$1 '));
    expect(rows).toEqual(table);
  });
});
