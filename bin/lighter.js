#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=1
// Thin launcher: the CLI is compiled TypeScript (npm install runs the build).
// Memory settings, for the device's applies above all (run it as an executable, not `node
// bin/lighter.js`, to get the first two; `npm start` and the bench do):
// - The small young generation: the engine streams through short-lived chunks, and V8's default
//   16 MiB semi-spaces hold 10-20 MB more RSS during an apply (runtime-update, 3 runs: 124-134 MB
//   peak against 135-154 MB, same time).
// - Two malloc arenas and a fixed 128 KiB mmap threshold: brotli and file reads run on libuv's pool
//   threads (an arena each), and glibc's threshold otherwise climbs to the largest buffer freed
//   (a 4-16 MiB brotli window), after which stream buffers of 256 KiB-1 MiB come from arenas that
//   keep what is freed. runtime-update apply, 3 runs each at load 12-17: 136-154 MB peak before,
//   117-125 MB with these two; `lighter diff` of base-on-device: same CPU, 134 against 171 MB.
// - --optimize-for-size for the commands that rebuild images (set here, so builds keep V8's
//   defaults): V8 collects promoted stream buffers sooner; runtime-update 111-112 MB against 118-126.
// - For the same commands, 32 x V8's interrupt budget (its default is 67584 bytes): a function is
//   optimized after 32 x as much bytecode has run in it. An apply's per-entry code (core/delta/apply.ts program, the tar
//   header codec, the word maps) is optimized, deoptimized and optimized again within its first
//   thousand entries, and on the small pairs TurboFan's background threads took ~0.3 s of CPU,
//   about a quarter of the whole apply; its hot loops still get optimized. 32 x rather than 8 x:
//   at 8 x, `program` (an async generator: 64 ms of TurboFan) got hot at the end of app-update's
//   and base-on-device's apply, and a process's exit waits for a compile in flight (app-update:
//   40-100 ms between the commit's last fsync and exit_group); at 32 x the small pairs compile 8
//   functions instead of 16 and not `program`.
// Any V8 flag that is not at its default, these three included, makes Node reject the code cache
// of its own modules (the flag hash differs; NODE_DEBUG_NATIVE=CODE_CACHE lists 187 rejected in an
// app-update apply). The worse hit is the copier's worker, whose bootstrap compiles some 130
// modules: 60-90 ms of its CPU against 40-50 with the cache. Setting the flags later does not pay:
// with the semi-space flag reset to 0 at once (the heap keeps its 1 MiB semi-spaces) and the other
// two set once the worker was up, app-update's apply took 1.41 s CPU and 80 MB against 1.28 s and
// 73 MB (medians of 15, alternating, load 10); with no flags at all, 1.46 s and 83 MB against
// 1.32 s and 73 MB (7 each, load 5).
import { setFlagsFromString } from 'node:v8';

const [cmd, sub] = process.argv.slice(2);
if (cmd === 'patch' || cmd === 'edge' || (cmd === 'bundle' && sub === 'apply')) {
  setFlagsFromString('--optimize-for-size');
  setFlagsFromString('--interrupt-budget=2162688');
}
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
