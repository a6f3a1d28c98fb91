// What skopeo (or, for the engine, docker) says an image is: config digest and diffIDs. Tests
// compare Lighter's results against this view, never against Lighter's own reading.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';

export function independentView(ref: string): { configDigest: string; diffIDs: string[] } {
  if (ref.startsWith('docker-daemon:')) {
    const [img] = JSON.parse(execFileSync('docker', ['image', 'inspect', ref.slice('docker-daemon:'.length)], { encoding: 'utf8' })) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
    return { configDigest: img!.Id, diffIDs: img!.RootFS.Layers };
  }
  const raw = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', ref]);
  const config = JSON.parse(raw.toString()) as { rootfs: { diff_ids: string[] } };
  return { configDigest: `sha256:${createHash('sha256').update(raw).digest('hex')}`, diffIDs: config.rootfs.diff_ids };
}
