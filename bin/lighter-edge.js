#!/usr/bin/env -S node --max-semi-space-size=1
// The edge module's launcher (the module container's command; `lighter edge` lands here too).
// Small V8 semi-spaces for the same reason as bin/lighter.js: applying streams short-lived chunks.
import('../dist/edge-module/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('lighter-edge: not built yet; run `npm install` (or `npm run build`) in the repo root\n');
    process.exit(2);
  }
  throw err;
});
