// Bundles, keys and image signatures: what shore builds and signs, and what a device verifies and
// applies (docs/bundle-format.md).
import { promises as fs } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { decodePreamble, headerLength, PREAMBLE_BYTES } from '../../../core/bundle/format.js';
import { parseManifest, type Manifest } from '../../../core/bundle/manifest.js';
import { generateKeys, loadVerifier } from '../../../io/keys.js';
import { openBundle } from '../../../io/bundle/reader.js';
import { UsageError, type Command } from '../command.js';
import { progressBar } from '../progress.js';

/** parseArgs with usage errors; `positionals` is how many plain arguments the command takes. */
function parse<T extends ParseArgsConfig>(config: T, positionals = 0): ReturnType<typeof parseArgs<T>> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs<T>({ strict: true, ...config });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (parsed.positionals.length !== positionals) throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}`);
  return parsed;
}

function need<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  return value;
}

function describe(m: Manifest): string {
  const lines = [
    `bundle ${m.id}`,
    `  version ${m.version}, created ${m.created} by ${m.creator}${m.expires ? `, expires ${m.expires}` : ''}`,
    `  signer  ${m.signer}`,
  ];
  for (const e of m.entries) {
    lines.push(`  entry   ${e.base ? `${e.base.configDigest} (${e.base.diffIDs.length} layers)` : 'full image'} -> ${e.target.repoTag} ${e.target.configDigest} (${e.target.layers.length} layers)`);
  }
  const total = m.parts.reduce((s, p) => s + p.length, 0);
  lines.push(`  parts   ${m.parts.length}, ${total} bytes`);
  for (const p of m.parts) lines.push(`          ${p.digest} ${p.length}`);
  return lines.join('\n');
}

const keysGenerate: Command = {
  name: 'keys generate',
  summary: 'create an ed25519 key pair for signing bundles',
  usage: `usage: lighter keys generate [-o DIR]
  Writes DIR/lighter-bundle.key (private, mode 0600; keep it on shore) and DIR/lighter-bundle.pub
  (give it to devices). DIR defaults to the current directory. Never overwrites a key.`,
  async run(args) {
    const { values } = parse({ args, options: { output: { type: 'string', short: 'o' } } });
    const keys = await generateKeys(values.output ?? '.');
    process.stdout.write(`private key ${keys.privateKey}\npublic key  ${keys.publicKey}\nkey id      ${keys.keyId}\n`);
  },
};

const bundleInspect: Command = {
  name: 'bundle inspect',
  summary: 'show a bundle manifest (signature NOT checked; use bundle verify)',
  usage: `usage: lighter bundle inspect FILE [--json]
  Prints the manifest without trusting it: nothing is verified and nothing is written.`,
  async run(args) {
    const { values, positionals } = parse({ args, options: { json: { type: 'boolean' } }, allowPositionals: true }, 1);
    const path = positionals[0]!;
    const fh = await fs.open(path, 'r').catch(() => {
      throw new Error(`cannot open ${path}`);
    });
    let manifest: Manifest;
    try {
      const start = Buffer.alloc(PREAMBLE_BYTES);
      await fh.read(start, 0, PREAMBLE_BYTES, 0);
      const preamble = decodePreamble(start);
      const header = Buffer.alloc(headerLength(preamble));
      const { bytesRead } = await fh.read(header, 0, header.length, 0);
      manifest = parseManifest(header.subarray(PREAMBLE_BYTES, Math.min(bytesRead, PREAMBLE_BYTES + preamble.manifestLength)));
    } finally {
      await fh.close();
    }
    process.stdout.write(values.json ? `${JSON.stringify(manifest, null, 2)}\n` : `${describe(manifest)}\n(not verified)\n`);
  },
};

const bundleVerify: Command = {
  name: 'bundle verify',
  summary: 'check a bundle: signature, lengths, every part digest',
  usage: `usage: lighter bundle verify FILE --pubkey KEY
  Checks the signature against KEY, the file's length against the signed manifest, and every
  part's sha256. Writes nothing.`,
  async run(args) {
    const { values, positionals } = parse({ args, options: { pubkey: { type: 'string' } }, allowPositionals: true }, 1);
    const bundle = await openBundle(positionals[0]!, await loadVerifier(need(values.pubkey, '--pubkey')));
    const bar = progressBar('verify');
    await bundle.verifyParts(bar);
    bar.end();
    process.stdout.write(`${describe(bundle.manifest)}\nverified: signature, lengths and ${bundle.manifest.parts.length} part digests\n`);
  },
};

export const commands: Command[] = [keysGenerate, bundleInspect, bundleVerify];
