// docker-daemon: images in a Docker engine, through dockerode. Reading saves the image to a temp
// archive (so layers can be streamed by offset in bounded memory); writing builds an archive and
// `docker load`s it, which the engine applies as a whole or not at all.
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import { tempPathFor } from '../atomic-file.js';
import { sha256 } from '../digest.js';
import { processScratch } from '../scratch.js';
import { archiveSourceFromFile, openArchiveDestination } from './docker-archive.js';
import type { ImageDestination, ImageSource, TransportOptions } from './types.js';

function client(opts: TransportOptions): Docker {
  return opts.dockerSocket ? new Docker({ socketPath: opts.dockerSocket }) : new Docker();
}

function engineError(err: unknown, what: string): Error {
  const e = err as { statusCode?: number; json?: { message?: string }; message?: string; code?: string };
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') return new Error(`${what}: cannot reach the Docker engine (${e.code}); is dockerd running?`);
  if (e.statusCode === 404) return new Error(`${what}: no such image in the Docker engine`);
  return new Error(`${what}: ${e.json?.message ?? e.message ?? String(err)}`);
}

export async function openDaemonSource(reference: string, name: string, opts: TransportOptions): Promise<ImageSource> {
  const docker = client(opts);
  const image = docker.getImage(name);
  await image.inspect().catch((err) => {
    throw engineError(err, reference);
  });
  const tmp = tempPathFor(join(opts.tmpDir ?? (await processScratch()), 'docker-save.tar'));
  try {
    const saved = await image.get().catch((err) => {
      throw engineError(err, reference);
    });
    await pipeline(saved, createWriteStream(tmp, { flags: 'wx' }));
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return archiveSourceFromFile(reference, tmp, undefined, () => fs.rm(tmp, { force: true }));
}

export async function openDaemonDestination(name: string, opts: TransportOptions): Promise<ImageDestination> {
  const docker = client(opts);
  const archive = await openArchiveDestination(join(opts.tmpDir ?? (await processScratch()), 'docker-load.tar'), name.startsWith('sha256:') ? undefined : name, opts);
  let configDigest = '';
  archive.writeTo(async (tar: Readable) => {
    const res = await docker.loadImage(tar, { quiet: true }).catch((err) => {
      throw engineError(err, `docker load of ${name}`);
    });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(res, (err: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        const failed = err?.message ?? events.find((e) => e.error)?.error;
        if (failed) reject(new Error(`docker load of ${name} failed: ${failed}`));
        else resolve();
      }),
    );
    const loaded = await docker.getImage(configDigest).inspect().catch(() => undefined);
    if (!loaded) throw new Error(`docker load of ${name} reported success but image ${configDigest} is not in the engine`);
  });
  return {
    ...archive,
    async commit(image) {
      configDigest = sha256(image.configBytes);
      await archive.commit(image);
    },
  };
}
