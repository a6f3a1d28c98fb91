import { describe, expect, it } from 'vitest';
import { toCsv } from './csv.js';

describe('toCsv', () => {
  it('quotes what needs quoting and defuses formulas', () => {
    expect(toCsv(['device', 'note', 'n'], [['a,b', 'say "hi"', 3], ['=cmd()', null, -1]])).toBe('device,note,n\r\n"a,b","say ""hi""",3\r\n\'=cmd(),,-1\r\n');
  });
});
