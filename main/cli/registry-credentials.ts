// Registry credentials for `lighter inspect` and `lighter copy`: USER:PASSWORD from a file only its
// owner can read (or "-" for stdin), or from an environment variable; never from the command line,
// where ps, the shell history and CI logs would show the password. Never printed.
import { promises as fs } from 'node:fs';
import type { TransportOptions } from '../../io/image/types.js';
import { UsageError } from './command.js';

/** Where each side's credentials come from: the file option and the environment variable. */
export const CREDENTIAL_SOURCES = {
  registry: { flag: 'creds-file', env: 'LIGHTER_REGISTRY_CREDS' },
  src: { flag: 'src-creds-file', env: 'LIGHTER_SRC_CREDS' },
  dest: { flag: 'dest-creds-file', env: 'LIGHTER_DEST_CREDS' },
} as const;
type Side = keyof typeof CREDENTIAL_SOURCES;

/** The option that reads SIDE's credentials from a file. */
export function credentialsFileOption(side: Side): { type: 'string'; value: string; help: string } {
  const { env } = CREDENTIAL_SOURCES[side];
  const whose = side === 'registry' ? 'registry' : side === 'src' ? 'source registry' : 'destination registry';
  return { type: 'string', value: 'FILE', help: `${whose} credentials: a file holding USER:PASSWORD, readable by its owner only ("-": stdin); or set $${env}` };
}

/** SIDE's old USER:PASS option, refused with where credentials go now. */
export function refusedCredentialsOption(side: Side): { type: 'string'; value: string; help: string; refused: string } {
  const { flag, env } = CREDENTIAL_SOURCES[side];
  return {
    type: 'string',
    value: 'USER:PASS',
    help: 'no longer accepted',
    refused: `is no longer accepted: a password on the command line is seen by ps, the shell history and CI logs. Put USER:PASSWORD in a file only you can read and pass --${flag} FILE, or set $${env}`,
  };
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

function parse(text: string, from: string): NonNullable<TransportOptions['credentials']> {
  const line = text.replace(/\r?\n$/, '');
  const i = line.indexOf(':');
  // the text is a secret: the message names where it came from, never what it holds
  if (i <= 0 || line.includes('\n')) throw new UsageError(`${from} does not hold one line USER:PASSWORD`);
  return { username: line.slice(0, i), password: line.slice(i + 1) };
}

/** The credentials for SIDE: the file given (FILE), else the side's environment variable, else none. */
export async function readCredentials(side: Side, file: string | undefined): Promise<TransportOptions['credentials']> {
  const { flag, env } = CREDENTIAL_SOURCES[side];
  if (file === '-') return parse(await readStdin(), `--${flag} - (stdin)`);
  if (file !== undefined) {
    const st = await fs.stat(file).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`--${flag} ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    const mode = st.mode & 0o777;
    if (process.platform !== 'win32' && mode & 0o077) throw new UsageError(`--${flag} ${file}: its mode is ${mode.toString(8)}; a file with a password must be readable by its owner only (chmod 600 ${file})`);
    return parse(await fs.readFile(file, 'utf8'), `--${flag} ${file}`);
  }
  const value = process.env[env];
  return value ? parse(value, `$${env}`) : undefined;
}
