// lighter inspect / lighter copy: read an image anywhere, or copy it between any two transports.
import { parsePlatform } from '../../../core/image/descriptor.js';
import { parseReference } from '../../../core/image/reference.js';
import { copyImage } from '../../../io/image/copy.js';
import { openDestination, openSource } from '../../../io/image/transport.js';
import type { TransportOptions } from '../../../io/image/types.js';
import { standaloneJobs } from '../../services.js';
import { defineCommand, UsageError } from '../command.js';
import { credentialsFileOption, readCredentials, refusedCredentialsOption } from '../registry-credentials.js';
import { runJob } from '../progress.js';

const REFS = `  REF: docker-archive:PATH[:name:tag] | oci:DIR[:tag] | docker-daemon:NAME:TAG | docker://HOST/REPO:TAG`;
const CREDS = `  Registry credentials (USER:PASSWORD) come from a file only its owner can read, or from the
  environment; never from the command line (ps and the shell history would show them).`;

function transportOptions(v: { insecure?: boolean; platform?: string | undefined }, credentials: TransportOptions['credentials']): TransportOptions {
  return {
    ...(v.insecure ? { insecure: true } : {}),
    ...(v.platform ? { platform: parsePlatform(v.platform) } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

const TRANSPORT = {
  insecure: { type: 'boolean', help: 'allow plain HTTP to a registry that is not on loopback' },
  platform: { type: 'string', value: 'OS/ARCH', help: 'the platform to pick from a multi-platform image' },
} as const;

const inspect = defineCommand({
  name: 'inspect',
  summary: 'print an image’s config digest, diffIDs, layer sizes and tags as JSON',
  details: `${REFS}\n\n${CREDS}`,
  args: ['REF'],
  options: {
    raw: { type: 'boolean', help: 'print the manifest bytes instead' },
    'creds-file': credentialsFileOption('registry'),
    creds: refusedCredentialsOption('registry'),
    ...TRANSPORT,
  },
  json: true,
  async run({ args, opts, result }) {
    const src = await openSource(args[0]!, transportOptions(opts, await readCredentials('registry', opts['creds-file'])));
    try {
      const info = await src.info();
      if (opts.raw) {
        process.stdout.write(Buffer.from(info.manifestBytes));
        return;
      }
      // Always JSON: this is what pipelines read (--json is accepted for uniformity).
      result({
        reference: info.reference,
        configDigest: info.configDigest,
        repoTags: info.repoTags,
        manifestMediaType: info.manifestMediaType,
        diffIDs: info.layers.map((l) => l.diffID),
        layers: info.layers.map((l) => ({ diffID: l.diffID, digest: l.descriptor.digest, mediaType: l.descriptor.mediaType, size: l.descriptor.size })),
      });
    } finally {
      await src.close();
    }
  },
});

const copy = defineCommand({
  name: 'copy',
  summary: 'copy an image between any two transports (archive, OCI layout, Docker engine, registry)',
  details: `${REFS.replace('REF:', 'SRC, DST:')}\n\n${CREDS}`,
  args: ['SRC', 'DST'],
  options: {
    quiet: { type: 'boolean', short: 'q', help: 'no progress bar' },
    'src-creds-file': credentialsFileOption('src'),
    'dest-creds-file': credentialsFileOption('dest'),
    'src-creds': refusedCredentialsOption('src'),
    'dest-creds': refusedCredentialsOption('dest'),
    'archive-layout': { type: 'string', value: 'LAYOUT', choices: ['legacy', 'oci'], help: "docker-archive output: legacy docker save layout (default) or Docker 25's OCI form" },
    ...TRANSPORT,
  },
  async run({ args, opts }) {
    const [srcRef, dstRef] = args as [string, string];
    const layout = opts['archive-layout'];
    const s = parseReference(srcRef);
    const d = parseReference(dstRef);
    // Same registry: let it link blobs across repositories instead of receiving them again.
    const mountFrom = s.transport === 'docker' && d.transport === 'docker' && s.host === d.host && s.repository !== d.repository ? [s.repository] : undefined;
    if (opts['src-creds-file'] === '-' && opts['dest-creds-file'] === '-') throw new UsageError('--src-creds-file - and --dest-creds-file - cannot both read stdin');
    const srcCreds = await readCredentials('src', opts['src-creds-file']);
    const destCreds = await readCredentials('dest', opts['dest-creds-file']);
    const src = await openSource(srcRef, transportOptions(opts, srcCreds));
    try {
      const dst = await openDestination(dstRef, {
        ...transportOptions(opts, destCreds),
        ...(layout ? { archiveLayout: layout } : {}),
        ...(mountFrom ? { mountFrom } : {}),
      });
      await runJob(standaloneJobs(), { kind: 'image-copy', title: `copy ${srcRef} to ${dstRef}`, label: 'copy', quiet: opts.quiet }, (ctx) =>
        copyImage(src, dst, { progress: (d, t) => ctx.progress(d, t) }),
      );
    } finally {
      await src.close();
    }
  },
});

export const commands = [inspect, copy];
