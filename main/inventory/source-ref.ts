// The Docker image name a skopeo-syntax reference carries, for recording what a device holds:
// docker://host/repo:tag, docker-daemon:repo:tag, docker-archive:/x.tar:repo:tag. oci: layouts,
// unnamed archives and image IDs carry none (the caller falls back to the image's RepoTags or --name).
import { parseReference } from '../../core/image/reference.js';

export function imageNameFromRef(ref: string): string | null {
  const r = parseReference(ref);
  switch (r.transport) {
    case 'docker':
      return `${r.host}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
    case 'docker-daemon':
      return r.name.startsWith('sha256:') ? null : r.name;
    case 'docker-archive':
      return r.tag ?? null;
    case 'oci':
      return null;
  }
}
