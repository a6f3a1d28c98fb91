// A program's output closed by its reader (`lighter ... | head`, `grep -q`): the next write fails
// with EPIPE, an unhandled 'error' event with a stack unless the stream has a listener. Both
// programs of bin/lighter.js (main/cli, edge-module) end such a run here, as SIGPIPE ends a C
// program: quietly, with the shell's status for it, since Node ignores SIGPIPE.

/** 128 + SIGPIPE (13): what a shell reports for a program killed by a closed pipe. */
export const EXIT_CLOSED_PIPE = 141;

/**
 * Ends the process with EXIT_CLOSED_PIPE when stdout's or stderr's reader has gone; every write of
 * the program ends in these two streams, so this is done once, at its start. Any other error of
 * theirs stays an error.
 */
export function exitOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(EXIT_CLOSED_PIPE);
    });
  }
}
