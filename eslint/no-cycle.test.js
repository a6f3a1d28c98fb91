// The cycle rule against real files on disk (it follows imports through files other than the one
// being linted).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, describe, it } from 'vitest';
import plugin from './no-cycle.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lighter-no-cycle-'));
const files = {
  'types.ts': "export interface Source { read(): string }\n",
  'open.ts': "import type { Source } from './types.js';\nexport async function open(): Promise<Source> { return (await import('./impl.js')).impl(); }\n",
  'impl.ts': "import type { Source } from './types.js';\nexport const impl = (): Source => ({ read: () => 'x' });\n",
  'bad-open.ts': "import type { Source } from './bad-impl.js';\nexport async function open(): Promise<Source> { return (await import('./bad-impl.js')).impl(); }\n",
  'bad-impl.ts': "export interface Source { read(): string }\nimport { open } from './bad-open.js';\nexport const impl = (): Source => ({ read: () => String(open) });\n",
  'a.ts': "import type { B } from './b.js';\nexport type A = { b?: B };\n",
  'b.ts': "import type { C } from './c.js';\nexport type B = { c?: C };\n",
  'c.ts': "export type { A } from './a.js';\nexport type C = number;\n",
};
for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tester = new RuleTester({ languageOptions: { parser: tseslint.parser } });
const at = (name) => ({ filename: path.join(dir, name), code: files[name] });

tester.run('lighter/no-cycle', plugin.rules['no-cycle'], {
  valid: [at('types.ts'), at('open.ts'), at('impl.ts')],
  invalid: [
    // a dispatcher and an adapter that import each other, through a dynamic import and a type
    { ...at('bad-open.ts'), errors: [{ messageId: 'cycle' }, { messageId: 'cycle' }] },
    { ...at('bad-impl.ts'), errors: [{ message: /^import cycle: \S*bad-impl\.ts → \S*bad-open\.ts → \S*bad-impl\.ts$/ }] },
    // type-only, three modules long, through a re-export
    { ...at('a.ts'), errors: [{ message: /^import cycle: \S*a\.ts → \S*b\.ts → \S*c\.ts → \S*a\.ts$/ }] },
  ],
});
