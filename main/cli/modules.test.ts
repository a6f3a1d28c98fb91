import { describe, expect, it } from 'vitest';
import { MODULES } from './modules.js';

describe('the CLI module list', () => {
  it("names exactly the first words of each module's commands, so a command line loads its module", async () => {
    for (const m of MODULES) {
      const first = new Set((await m.load()).commands.map((c) => c.name.split(' ')[0]!));
      expect([...first].sort()).toEqual([...m.words].sort());
    }
  });
});
