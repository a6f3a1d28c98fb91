// lighter inspect / lighter copy: read an image anywhere, or copy it between any two transports.
import { parseArgs } from 'node:util';
import { parsePlatform } from '../../../core/image/descriptor.js';
import { parseReference } from '../../../core/image/reference.js';
import { copyImage, openDestination, openSource, type TransportOptions } from '../../../io/image/transport.js';
import { UsageError, type Command } from '../command.js';
import { standaloneJobs } from '../../services.js';
import { runJob } from '../progress.js';

function creds(s: string | undefined): TransportOptions['credentials'] {
  if (s === undefined) return undefined;
  const i = s.indexOf(':');
  if (i <= 0) throw new UsageError('credentials look like USER:PASSWORD');
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

function transportOptions(v: { insecure?: boolean; platform?: string; creds?: string }): TransportOptions {
  const c = creds(v.creds);
  return {
    ...(v.insecure ? { insecure: true } : {}),
    ...(v.platform ? { platform: parsePlatform(v.platform) } : {}),
    ...(c ? { credentials: c } : {}),
  };
}

const inspect: Command = {
  name: 'inspect',
  summary: 'print an image’s config digest, diffIDs, layer sizes and tags as JSON',
  usage: `usage: lighter inspect REF [--raw] [--insecure] [--creds USER:PASS] [--platform OS/ARCH]
  REF: docker-archive:PATH[:name:tag] | oci:DIR[:tag] | docker-daemon:NAME:TAG | docker://HOST/REPO:TAG
  --raw   print the manifest bytes instead`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { raw: { type: 'boolean' }, insecure: { type: 'boolean' }, creds: { type: 'string' }, platform: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one image reference');
    const src = await openSource(positionals[0]!, transportOptions(values));
    try {
      const info = await src.info();
      if (values.raw) {
        process.stdout.write(Buffer.from(info.manifestBytes));
        return;
      }
      const out = {
        reference: info.reference,
        configDigest: info.configDigest,
        repoTags: info.repoTags,
        manifestMediaType: info.manifestMediaType,
        diffIDs: info.layers.map((l) => l.diffID),
        layers: info.layers.map((l) => ({ diffID: l.diffID, digest: l.descriptor.digest, mediaType: l.descriptor.mediaType, size: l.descriptor.size })),
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } finally {
      await src.close();
    }
  },
};

const copy: Command = {
  name: 'copy',
  summary: 'copy an image between any two transports (archive, OCI layout, Docker engine, registry)',
  usage: `usage: lighter copy SRC DST [--insecure] [--quiet] [--src-creds U:P] [--dest-creds U:P] [--platform OS/ARCH] [--archive-layout legacy|oci]
  SRC, DST: docker-archive:PATH[:name:tag] | oci:DIR[:tag] | docker-daemon:NAME:TAG | docker://HOST/REPO:TAG
  --insecure        allow plain HTTP to a registry that is not on loopback
  --quiet           no progress bar
  --archive-layout  docker-archive output: legacy docker save layout (default) or Docker 25's OCI form`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        insecure: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        'src-creds': { type: 'string' },
        'dest-creds': { type: 'string' },
        platform: { type: 'string' },
        'archive-layout': { type: 'string' },
      },
    });
    if (positionals.length !== 2) throw new UsageError('give a source and a destination reference');
    const [srcRef, dstRef] = positionals as [string, string];
    const layout = values['archive-layout'];
    if (layout !== undefined && layout !== 'legacy' && layout !== 'oci') throw new UsageError('--archive-layout is legacy or oci');
    const s = parseReference(srcRef);
    const d = parseReference(dstRef);
    // Same registry: let it link blobs across repositories instead of receiving them again.
    const mountFrom = s.transport === 'docker' && d.transport === 'docker' && s.host === d.host && s.repository !== d.repository ? [s.repository] : undefined;
    const src = await openSource(srcRef, transportOptions({ ...values, creds: values['src-creds'] }));
    try {
      const dst = await openDestination(dstRef, {
        ...transportOptions({ ...values, creds: values['dest-creds'] }),
        ...(layout ? { archiveLayout: layout } : {}),
        ...(mountFrom ? { mountFrom } : {}),
      });
      await runJob(standaloneJobs(), { kind: 'image-copy', title: `copy ${srcRef} to ${dstRef}`, label: 'copy', quiet: values.quiet === true }, (ctx) =>
        copyImage(src, dst, { progress: (d, t) => ctx.progress(d, t) }),
      );
    } finally {
      await src.close();
    }
  },
};

export const commands: Command[] = [inspect, copy];
