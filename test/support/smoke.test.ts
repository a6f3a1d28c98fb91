import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('lighter CLI', () => {
  it('prints usage and exits 0 with no arguments', () => {
    const out = execFileSync('node', ['bin/lighter.js'], { encoding: 'utf8' });
    expect(out).toMatch(/^Usage: lighter \[options\] \[command\]\n/);
  });
});
