// Opens a transport by its skopeo-syntax reference (docker-archive:, oci:, docker-daemon:,
// docker://). The interfaces they implement are in io/image/types.ts; adapters are loaded on use so
// that reading an archive does not load the registry or Docker client.
import { parseReference } from '../../core/image/reference.js';
import type { ImageDestination, ImageSource, TransportOptions } from './types.js';

export async function openSource(ref: string, opts: TransportOptions = {}): Promise<ImageSource> {
  const r = parseReference(ref);
  switch (r.transport) {
    case 'docker-archive':
      return (await import('./docker-archive.js')).openArchiveSource(ref, r.path, r.tag, opts);
    case 'oci':
      return (await import('./oci-layout.js')).openOciSource(ref, r.path, r.tag, opts);
    case 'docker-daemon':
      return (await import('./docker-daemon.js')).openDaemonSource(ref, r.name, opts);
    case 'docker':
      return (await import('./registry.js')).openRegistrySource(ref, r, opts);
  }
}

export async function openDestination(ref: string, opts: TransportOptions = {}): Promise<ImageDestination> {
  const r = parseReference(ref);
  switch (r.transport) {
    case 'docker-archive':
      return (await import('./docker-archive.js')).openArchiveDestination(r.path, r.tag, opts);
    case 'oci':
      return (await import('./oci-layout.js')).openOciDestination(r.path, r.tag, opts);
    case 'docker-daemon':
      return (await import('./docker-daemon.js')).openDaemonDestination(r.name, opts);
    case 'docker':
      if (r.digest) throw new Error(`${ref}: cannot write to a digest reference; give a tag`);
      return (await import('./registry.js')).openRegistryDestination(r, opts);
  }
}
