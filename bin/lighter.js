#!/usr/bin/env -S node --max-semi-space-size=1
// Thin launcher: the CLI is compiled TypeScript (npm install runs the build).
// The small young generation is for memory: the engine streams through short-lived chunks, and
// V8's default 16 MiB semi-spaces hold ~17 MB more RSS during an apply (runtime-update: 142.6 MB
// peak against 125.2 MB, same time). Run it as an executable (not `node bin/lighter.js`) to get it.
import('../dist/main/cli/index.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('lighter: not built yet; run `npm install` (or `npm run build`) in the repo root\n');
    process.exit(2);
  }
  throw err;
});
