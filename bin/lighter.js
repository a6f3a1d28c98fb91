#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (npm install runs the build).
import('../dist/main/cli/index.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('lighter: not built yet; run `npm install` (or `npm run build`) in the repo root\n');
    process.exit(2);
  }
  throw err;
});
