// Secrets (connection strings, SAS URLs, passwords) come in on stdin, never as arguments: ps and the
// shell history would show those.

/** All of stdin, trimmed; on a terminal, first a prompt on stderr saying what to paste. */
export async function readStdin(what: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`paste ${what}, then Ctrl-D:\n`);
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.trim();
}
