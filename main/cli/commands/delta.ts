// `lighter diff` builds a patch between two images; `lighter patch` rebuilds the target from the
// base image and the patch into any destination transport.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { applyPatch, diffImages, PatchFile } from '../../../io/delta/patch.js';
import { openDestination, openSource } from '../../../io/image/transport.js';
import { UsageError, type Command } from '../command.js';
import { standaloneJobs } from '../../services.js';
import { runJob } from '../progress.js';

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${usage}`);
  }
}

const diffUsage = `usage: lighter diff [--from BASE_REF] --to TARGET_REF -o PATCH_FILE [--known DIFFID]...
  Builds a patch that rebuilds TARGET_REF from BASE_REF (image references in skopeo syntax,
  e.g. docker-archive:/path/app.tar); without --from, a first-image patch carrying every layer.
  Layers in --known (the device has them) are not carried.`;

const patchUsage = `usage: lighter patch [--from BASE_REF] PATCH_FILE --to DEST_REF
  Rebuilds the patch's target image from BASE_REF and writes it to DEST_REF (any transport).
  Every layer is verified against its diffID before the destination commits.`;

export const commands: Command[] = [
  {
    name: 'diff',
    summary: 'build a patch from a base image to a target image',
    usage: diffUsage,
    async run(args) {
      const { values, positionals } = parse(args, { from: { type: 'string' }, to: { type: 'string' }, output: { type: 'string', short: 'o' }, known: { type: 'string', multiple: true } }, diffUsage);
      const from = values.from as string | undefined;
      const to = values.to as string | undefined;
      const out = values.output as string | undefined;
      if (!to || !out || positionals.length) throw new UsageError('need --to and -o (and --from unless a first image), and nothing else');
      const base = from ? await openSource(from) : undefined;
      try {
        const target = await openSource(to);
        try {
          const header = await runJob(standaloneJobs(), { kind: 'delta-diff', title: `diff ${to}`, label: 'diff' }, (ctx) =>
            diffImages(base, target, out, { onProgress: (d, t) => ctx.progress(d, t), knownDiffIDs: (values.known as string[] | undefined) ?? [] }),
          );
          const carried = header.layers.filter((l) => l.from === 'patch').length;
          process.stderr.write(`wrote ${out}: ${header.layers.length} layers, ${carried} carried as deltas\n`);
        } finally {
          await target.close();
        }
      } finally {
        await base?.close();
      }
    },
  },
  {
    name: 'patch',
    summary: 'rebuild an image from a base image and a patch',
    usage: patchUsage,
    async run(args) {
      const { values, positionals } = parse(args, { from: { type: 'string' }, to: { type: 'string' } }, patchUsage);
      const from = values.from as string | undefined;
      const to = values.to as string | undefined;
      if (!to || positionals.length !== 1) throw new UsageError('need --to and one patch file (and --from unless a first image)');
      const patch = await PatchFile.open(positionals[0]!);
      const base = from ? await openSource(from) : undefined;
      try {
        const dest = await openDestination(to);
        await runJob(standaloneJobs(), { kind: 'delta-patch', title: `patch ${to}`, label: 'patch' }, (ctx) => applyPatch(patch, base, dest, { onProgress: (d, t) => ctx.progress(d, t) }));
        process.stderr.write(`rebuilt ${patch.header.target.configDigest} into ${to}\n`);
      } finally {
        await base?.close();
      }
    },
  },
];
