// The layer rule on snippets placed in each layer (file names decide the layer).
import path from 'node:path';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, it } from 'vitest';
import plugin from './layers.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const ROOT = path.resolve(import.meta.dirname, '..');
const at = (file, code) => ({ filename: path.join(ROOT, file), code });
const bad = (file, code) => ({ ...at(file, code), errors: [{ messageId: 'layer' }] });

new RuleTester({ languageOptions: { parser: tseslint.parser } }).run('lighter/layers', plugin.rules.layers, {
  valid: [
    at('core/x.ts', "import { z } from 'zod'; import { a } from './y.js';"),
    at('io/x.ts', "import fs from 'node:fs'; import tar from 'tar-stream'; import { a } from '../core/y.js';"),
    at('io/x.ts', "import { setTimeout } from 'timers/promises'; import { builtinModules } from 'module';"),
    at('main/x.ts', "import Database from 'better-sqlite3'; import { a } from '../io/y.js'; import { b } from '../contract/z.js';"),
    at('main/shell/x.ts', "import { app } from 'electron';"),
    at('renderer/x.tsx', "import { useState } from 'react'; import { a } from '../contract/y.js';"),
    at('core/x.test.ts', "import fs from 'node:fs';"),
    at('test/x.ts', "import Database from 'better-sqlite3';"),
  ],
  invalid: [
    // Node in core, by every spelling, including built-ins an older hand-written list missed
    bad('core/x.ts', "import fs from 'node:fs';"),
    bad('core/x.ts', "import { Buffer } from 'buffer';"),
    bad('core/x.ts', "import { setTimeout } from 'timers/promises';"),
    bad('core/x.ts', "import dns from 'dns';"),
    bad('core/x.ts', "const m = await import('node:worker_threads');"),
    bad('core/x.ts', "export { a } from '../io/y.js';"),
    bad('io/x.ts', "import { a } from '../main/y.js';"),
    bad('main/x.ts', "import { app } from 'electron';"),
    bad('renderer/x.tsx', "import fs from 'fs';"),
    bad('renderer/x.tsx', "import dns from 'dns';"),
    bad('renderer/x.tsx', "import { Worker } from 'worker_threads';"),
    bad('renderer/x.tsx', "import { a } from '../main/y.js';"),
    bad('contract/x.ts', "import os from 'os';"),
  ],
});
