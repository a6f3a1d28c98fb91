// Entry point of the edge module's program (bin/lighter-edge.js, and `lighter edge` via bin/lighter.js).
import { main } from './cli.js';

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`lighter edge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
