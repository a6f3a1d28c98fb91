// Docker image names as deployment manifests and the inventory use them, in one comparable form:
// registry, path, tag, digest with Docker's defaults applied (parsing is core/image/reference's).
import { parseDockerName } from '../image/reference.js';

export interface ImageName {
  /** registry host[:port], "docker.io" when the name has none */
  registry: string;
  /** repository path inside the registry ("library/nginx", "team/app") */
  path: string;
  tag: string | null;
  digest: string | null;
}

export function parseImageName(name: string): ImageName {
  const n = parseDockerName(name);
  return { registry: n.host, path: n.repository, tag: n.tag ?? null, digest: n.digest ?? null };
}

/** registry/path, the repository an inventory row is keyed by */
export function repositoryOf(n: ImageName): string {
  return `${n.registry}/${n.path}`;
}

export function formatImageName(n: ImageName): string {
  return `${n.registry}/${n.path}${n.tag ? `:${n.tag}` : ''}${n.digest ? `@${n.digest}` : ''}`;
}
