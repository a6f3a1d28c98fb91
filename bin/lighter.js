#!/usr/bin/env -S node --max-semi-space-size=1
// Thin launcher: the CLI is compiled TypeScript (npm install runs the build).
// The small young generation is for memory: the engine streams through short-lived chunks, and
// V8's default 16 MiB semi-spaces hold 10-20 MB more RSS during an apply (runtime-update, 3 runs:
// 124-134 MB peak against 135-154 MB, same time). Run it as an executable (not `node bin/lighter.js`)
// to get it; `npm start` and the bench do.
// `lighter edge ...` is the device's program (edge-module/), which main/ may not import (layer
// table): it is started here, in this process, so signals and exit codes are its own.
const edge = process.argv[2] === 'edge';
if (edge) process.argv.splice(2, 1);
import(edge ? '../dist/edge-module/main.js' : '../dist/main/cli/index.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('lighter: not built yet; run `npm install` (or `npm run build`) in the repo root\n');
    process.exit(2);
  }
  throw err;
});
