// Bundles, keys and image signatures: what shore builds and signs, and what a device verifies and
// applies (docs/bundle-format.md).
import { promises as fs } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { decodePreamble, headerLength, PREAMBLE_BYTES } from '../../../core/bundle/format.js';
import { parseManifest, type Manifest } from '../../../core/bundle/manifest.js';
import { writeFileAtomic } from '../../../io/atomic-file.js';
import { applyBundle, verifyByRebuild } from '../../../io/bundle/apply.js';
import { buildBundle } from '../../../io/bundle/build.js';
import { openBundle } from '../../../io/bundle/reader.js';
import { imageSignature } from '../../../io/bundle/signature.js';
import { defaultStateDir } from '../../../io/bundle/state.js';
import { openSource } from '../../../io/image/transport.js';
import { generateKeys, loadSigner, loadVerifier } from '../../../io/keys.js';
import { UsageError, type Command } from '../command.js';
import { standaloneJobs } from '../../services.js';
import { runJob } from '../progress.js';

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
  usage: `usage: lighter bundle verify FILE --pubkey KEY [--from REF]
  Checks the signature against KEY, the file's length against the signed manifest, and every
  part's sha256. With --from, also rebuilds the target's layers from REF and checks each against
  its diffID (in a temp dir, discarded). Writes nothing else.`,
  async run(args) {
    const { values, positionals } = parse({ args, options: { pubkey: { type: 'string' }, from: { type: 'string' } }, allowPositionals: true }, 1);
    const bundle = await openBundle(positionals[0]!, await loadVerifier(need(values.pubkey, '--pubkey')));
    await runJob(standaloneJobs(), { kind: 'bundle-verify', title: `verify ${positionals[0]}`, label: 'verify' }, (ctx) => bundle.verifyParts((d, t) => ctx.progress(d, t, 'part digests')));
    const rebuilt = values.from ? await verifyByRebuild(bundle, values.from) : null;
    const how = rebuilt ? `, and ${rebuilt.target.repoTag} rebuilt from ${values.from}` : '';
    process.stdout.write(`${describe(bundle.manifest)}\nverified: signature, lengths, ${bundle.manifest.parts.length} part digests${how}\n`);
  },
};

const signature: Command = {
  name: 'signature',
  summary: "write an image's signature (layers, files, content hashes) for choosing bases",
  usage: `usage: lighter signature REF -o FILE
  Reads the image REF (docker-archive:, oci:, docker-daemon:, docker://) and writes its signature
  as JSON: per layer its diffID and size, per file its path, size and sha256. bundle build ranks
  candidate bases with it (--from-signature) without needing the base's bytes.`,
  async run(args) {
    const { values, positionals } = parse({ args, options: { output: { type: 'string', short: 'o' } }, allowPositionals: true }, 1);
    const out = need(values.output, '-o');
    const source = await openSource(positionals[0]!);
    try {
      const sig = await imageSignature(source);
      await writeFileAtomic(out, `${JSON.stringify(sig)}\n`);
      const files = sig.layers.reduce((n, l) => n + l.files.length, 0);
      process.stdout.write(`${out}: ${sig.configDigest}, ${sig.layers.length} layers, ${files} entries\n`);
    } finally {
      await source.close();
    }
  },
};

function parseTime(s: string | undefined, flag: string): Date | undefined {
  if (s === undefined) return undefined;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag}: not a date/time: ${s}`);
  return d;
}

const bundleBuild: Command = {
  name: 'bundle build',
  summary: 'build a signed bundle that turns a base image (or nothing) into a target',
  usage: `usage: lighter bundle build --to REF [--from REF | --from-signature FILE]... --key KEY -o FILE
                            [--version N] [--expires TIME] [--tag REPO:TAG] [--creator NAME]
  Ranks the candidate bases by estimated patch size and builds against the best (the full image
  when nothing helps). A --from-signature base is known only by its signature: its layers are
  reused by diffID. The bundle is rebuilt and verified before it is written (atomically).
  --version   strictly increasing per signer (default: seconds since 1970)
  --tag       the repo:tag the device gets (default: the target's first tag)`,
  async run(args) {
    const { values } = parse({
      args,
      options: {
        to: { type: 'string' },
        from: { type: 'string', multiple: true },
        'from-signature': { type: 'string', multiple: true },
        key: { type: 'string' },
        output: { type: 'string', short: 'o' },
        version: { type: 'string' },
        expires: { type: 'string' },
        tag: { type: 'string' },
        creator: { type: 'string' },
      },
    });
    const version = values.version === undefined ? Math.floor(Date.now() / 1000) : Number(values.version);
    if (!Number.isSafeInteger(version) || version < 1) throw new UsageError(`--version must be a positive integer, not ${values.version}`);
    const signer = await loadSigner(need(values.key, '--key'));
    const result = await runJob(standaloneJobs(), { kind: 'bundle-build', title: `build ${values.to}`, label: 'build' }, (ctx) =>
      buildBundle({
        to: need(values.to, '--to'),
        from: values.from ?? [],
        fromSignatures: values['from-signature'] ?? [],
        signer,
        out: need(values.output, '-o'),
        version,
        creator: values.creator ?? `${userInfo().username}@lighter`,
        ...(values.expires ? { expires: parseTime(values.expires, '--expires') } : {}),
        ...(values.tag ? { repoTag: values.tag } : {}),
        onProgress: (d, t) => ctx.progress(d, t, 'diffing'),
        log: (line) => process.stderr.write(`${line}\n`),
      }),
    );
    process.stdout.write(`${describe(result.manifest)}\nbase    ${result.base ?? 'none (full image)'}\nwrote   ${values.output}: ${result.bytes} bytes\n`);
  },
};

const bundleApply: Command = {
  name: 'bundle apply',
  summary: 'verify a bundle and rebuild its target image into a registry, Docker or an archive',
  usage: `usage: lighter bundle apply FILE --to DEST_REF --pubkey KEY [--from REF] [--state DIR]
  Checks the signature, then the version against the last one applied (state dir), then expiry
  and every part digest; rebuilds the target from --from (omit it for a full-image bundle) and
  commits it to DEST_REF (docker://host:port/repo:tag, docker-daemon:name:tag, docker-archive:path).
  A killed apply resumes where it stopped. --state defaults to $LIGHTER_DATA_DIR/apply.`,
  async run(args) {
    const { values, positionals } = parse({ args, options: { from: { type: 'string' }, to: { type: 'string' }, pubkey: { type: 'string' }, state: { type: 'string' } }, allowPositionals: true }, 1);
    const verifier = await loadVerifier(need(values.pubkey, '--pubkey'));
    const r = await runJob(standaloneJobs(), { kind: 'bundle-apply', title: `apply ${positionals[0]}`, label: 'apply' }, (ctx) =>
      applyBundle({
        bundle: positionals[0]!,
        verifier,
        from: values.from ?? null,
        to: need(values.to, '--to'),
        stateDir: values.state ?? defaultStateDir(),
        onProgress: (d, t) => ctx.progress(d, t, 'rebuilding'),
      }),
    );
    process.stdout.write(`applied bundle ${r.manifest.id} version ${r.manifest.version}: ${r.entry.target.repoTag} ${r.entry.target.configDigest} -> ${values.to} (${r.rebuilt} layers rebuilt, ${r.resumed} resumed)\n`);
  },
};

export const commands: Command[] = [keysGenerate, signature, bundleBuild, bundleVerify, bundleApply, bundleInspect];
