// Entry point of the edge module's program (bin/lighter-edge.js, and `lighter edge` via bin/lighter.js).
import { exitOnClosedOutput } from '../io/closed-output.js';
import { sweepScratch } from '../io/scratch.js';
import { main } from './cli.js';

exitOnClosedOutput(); // `lighter edge ... | head` ends quietly

// As every lighter command does: a run killed by power loss or kill -9 left its spool under
// <data>/tmp; take it back before this run adds its own (a live run's directory is never touched).
sweepScratch()
  .catch(() => undefined)
  .then(() => main(process.argv.slice(2)))
  .then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`lighter edge: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
