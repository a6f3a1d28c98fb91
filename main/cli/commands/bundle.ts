// Bundles, keys and image signatures: what shore builds and signs, and what a device verifies and
// applies (docs/bundle-format.md).
import { promises as fs } from 'node:fs';
import { userInfo } from 'node:os';
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
import { standaloneJobs } from '../../services.js';
import { defineCommand, positiveInteger, UsageError } from '../command.js';
import { runJob } from '../progress.js';

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

const keysGenerate = defineCommand({
  name: 'keys generate',
  summary: 'create an ed25519 key pair for signing bundles',
  details: `  Writes DIR/lighter-bundle.key (private, mode 0600; keep it on shore) and DIR/lighter-bundle.pub
  (give it to devices). Never overwrites a key.`,
  options: { output: { type: 'string', short: 'o', value: 'DIR', default: '.', help: 'where to write the keys' } },
  json: true,
  async run({ opts, result }) {
    const keys = await generateKeys(opts.output);
    result(keys, (k) => `private key ${k.privateKey}\npublic key  ${k.publicKey}\nkey id      ${k.keyId}`);
  },
});

const bundleInspect = defineCommand({
  name: 'bundle inspect',
  summary: 'show a bundle manifest (signature NOT checked; use bundle verify)',
  details: '  Prints the manifest without trusting it: nothing is verified and nothing is written.',
  args: ['FILE'],
  json: true,
  async run({ args, result }) {
    const path = args[0]!;
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
    result(manifest, (m) => `${describe(m)}\n(not verified)`);
  },
});

const bundleVerify = defineCommand({
  name: 'bundle verify',
  summary: 'check a bundle: signature, lengths, every part digest',
  details: `  Checks the signature against KEY, the file's length against the signed manifest, and every
  part's sha256. With --from, also rebuilds the target's layers from REF and checks each against
  its diffID (in a temp dir, discarded). Writes nothing else.`,
  args: ['FILE'],
  options: {
    pubkey: { type: 'string', value: 'KEY', required: true, help: 'the public key the bundle must be signed with' },
    from: { type: 'string', value: 'REF', help: 'also rebuild the target from this base image' },
  },
  json: true,
  async run({ args, opts, result }) {
    const bundle = await openBundle(args[0]!, await loadVerifier(opts.pubkey));
    await runJob(standaloneJobs(), { kind: 'bundle-verify', title: `verify ${args[0]}`, label: 'verify' }, (ctx) => bundle.verifyParts((d, t) => ctx.progress(d, t, 'part digests')));
    const rebuilt = opts.from ? await verifyByRebuild(bundle, opts.from) : null;
    const verified = { manifest: bundle.manifest, parts: bundle.manifest.parts.length, rebuiltFrom: rebuilt ? opts.from : null };
    const how = rebuilt ? `, and ${rebuilt.target.repoTag} rebuilt from ${opts.from}` : '';
    result(verified, (v) => `${describe(v.manifest)}\nverified: signature, lengths, ${v.parts} part digests${how}`);
  },
});

const signature = defineCommand({
  name: 'signature',
  summary: "write an image's signature (layers, files, content hashes) for choosing bases",
  details: `  Reads the image REF (docker-archive:, oci:, docker-daemon:, docker://) and writes its signature
  as JSON: per layer its diffID and size, per file its path, size and sha256. bundle build ranks
  candidate bases with it (--from-signature) without needing the base's bytes.`,
  args: ['REF'],
  options: { output: { type: 'string', short: 'o', value: 'FILE', required: true, help: 'where to write the signature' } },
  json: true,
  async run({ args, opts, result }) {
    const source = await openSource(args[0]!);
    try {
      const sig = await imageSignature(source);
      await writeFileAtomic(opts.output, `${JSON.stringify(sig)}\n`);
      const entries = sig.layers.reduce((n, l) => n + l.files.length, 0);
      result({ file: opts.output, configDigest: sig.configDigest, layers: sig.layers.length, entries }, (r) => `${r.file}: ${r.configDigest}, ${r.layers} layers, ${r.entries} entries`);
    } finally {
      await source.close();
    }
  },
});

function parseTime(s: string, flag: string): Date {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag}: not a date/time: ${s}`);
  return d;
}

const bundleBuild = defineCommand({
  name: 'bundle build',
  summary: 'build a signed bundle that turns a base image (or nothing) into a target',
  details: `  Ranks the candidate bases by estimated patch size and builds against the best (the full image
  when nothing helps). A --from-signature base is known only by its signature: its layers are
  reused by diffID. The bundle is rebuilt and verified before it is written (atomically).`,
  options: {
    to: { type: 'string', value: 'REF', required: true, help: 'the target image' },
    from: { type: 'string', value: 'REF', multiple: true, help: 'a candidate base image (repeatable)' },
    'from-signature': { type: 'string', value: 'FILE', multiple: true, help: 'a candidate base known by its signature (repeatable)' },
    key: { type: 'string', value: 'KEY', required: true, help: 'the private key to sign with' },
    output: { type: 'string', short: 'o', value: 'FILE', required: true, help: 'where to write the bundle' },
    version: { type: 'string', value: 'N', help: 'strictly increasing per signer (default: seconds since 1970)' },
    expires: { type: 'string', value: 'TIME', help: 'when devices stop accepting the bundle' },
    tag: { type: 'string', value: 'REPO:TAG', help: "the repo:tag the device gets (default: the target's first tag)" },
    creator: { type: 'string', value: 'NAME', help: 'who built it (default: user@lighter)' },
    dense: { type: 'boolean', help: 'context-mixing coding wherever it is 3% smaller than brotli, not only where it pays at 1 Mbit/s: ~20% smaller new text, ~10 s more apply CPU per 3 MB (metered or slower links)' },
    patch: { type: 'string', value: 'FILE', help: 'seal a patch `lighter diff` built from the one --from (or nothing) to --to, instead of diffing again; checked and rebuilt first all the same' },
  },
  json: true,
  async run({ opts, result, log }) {
    const version = opts.version === undefined ? Math.floor(Date.now() / 1000) : positiveInteger(opts.version, '--version');
    const signer = await loadSigner(opts.key);
    const built = await runJob(standaloneJobs(), { kind: 'bundle-build', title: `build ${opts.to}`, label: 'build' }, (ctx) =>
      buildBundle({
        to: opts.to,
        from: opts.from,
        fromSignatures: opts['from-signature'],
        signer,
        out: opts.output,
        version,
        creator: opts.creator ?? `${userInfo().username}@lighter`,
        dense: opts.dense === true,
        ...(opts.patch ? { patch: opts.patch } : {}),
        ...(opts.expires ? { expires: parseTime(opts.expires, '--expires') } : {}),
        ...(opts.tag ? { repoTag: opts.tag } : {}),
        onProgress: (d, t) => ctx.progress(d, t, 'diffing'),
        log,
      }),
    );
    result({ manifest: built.manifest, base: built.base, file: opts.output, estimate: built.estimate, bytes: built.bytes }, (r) => `${describe(r.manifest)}\nbase    ${r.base ?? 'none (full image)'}\nwrote   ${r.file}: ${r.bytes} bytes (estimated ${r.estimate})`);
  },
});

const bundleApply = defineCommand({
  name: 'bundle apply',
  summary: 'verify a bundle and rebuild its target image into a registry, Docker or an archive',
  details: `  Checks the signature, then the version against the last one applied (state dir), then expiry
  and every part digest; rebuilds the target from --from (omit it for a full-image bundle) and
  commits it to DEST_REF (docker://host:port/repo:tag, docker-daemon:name:tag, docker-archive:path).
  A killed apply resumes where it stopped.`,
  args: ['FILE'],
  options: {
    to: { type: 'string', value: 'DEST_REF', required: true, help: 'where to commit the rebuilt image' },
    pubkey: { type: 'string', value: 'KEY', required: true, help: 'the public key the bundle must be signed with' },
    from: { type: 'string', value: 'REF', help: 'the base image on this device' },
    state: { type: 'string', value: 'DIR', help: 'versions applied and resumable work (default: $LIGHTER_DATA_DIR/apply)' },
  },
  json: true,
  async run({ args, opts, result }) {
    const verifier = await loadVerifier(opts.pubkey);
    const r = await runJob(standaloneJobs(), { kind: 'bundle-apply', title: `apply ${args[0]}`, label: 'apply' }, (ctx) =>
      applyBundle({
        bundle: args[0]!,
        verifier,
        from: opts.from ?? null,
        to: opts.to,
        stateDir: opts.state ?? defaultStateDir(),
        onProgress: (d, t) => ctx.progress(d, t, 'rebuilding'),
      }),
    );
    const applied = { id: r.manifest.id, version: r.manifest.version, repoTag: r.entry.target.repoTag, configDigest: r.entry.target.configDigest, destination: opts.to, rebuilt: r.rebuilt, resumed: r.resumed };
    result(applied, (a) => `applied bundle ${a.id} version ${a.version}: ${a.repoTag} ${a.configDigest} -> ${a.destination} (${a.rebuilt} layers rebuilt, ${a.resumed} resumed)`);
  },
});

export const commands = [keysGenerate, signature, bundleBuild, bundleVerify, bundleApply, bundleInspect];
