// Docker image names as written in deployment manifests ("mcr.microsoft.com/azureiotedge-agent:1.5",
// "app:2", "host:5000/team/app@sha256:...") split into registry, path, tag and digest, with Docker's
// defaults applied so that two spellings of the same image compare equal.
export interface ImageName {
  /** registry host[:port], "docker.io" when the name has none */
  registry: string;
  /** repository path inside the registry ("library/nginx", "team/app") */
  path: string;
  tag: string | null;
  digest: string | null;
}

const PATH_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function parseImageName(name: string): ImageName {
  const bad = (why: string) => new Error(`invalid image name ${JSON.stringify(name)}: ${why}`);
  if (typeof name !== 'string' || name.length === 0) throw bad('empty');
  let rest = name;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('digest must be sha256:<64 hex>');
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag ${JSON.stringify(tag)} is not valid`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  // The first component is a registry when it looks like a host (has a dot or port, or is localhost).
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) registry = parts.shift()!;
  if (parts.length === 0 || parts.some((p) => !PATH_PART.test(p))) throw bad('repository path has invalid characters');
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (tag === null && digest === null) tag = 'latest';
  return { registry, path: parts.join('/'), tag, digest };
}

/** registry/path, the repository an inventory row is keyed by */
export function repositoryOf(n: ImageName): string {
  return `${n.registry}/${n.path}`;
}

export function formatImageName(n: ImageName): string {
  return `${n.registry}/${n.path}${n.tag ? `:${n.tag}` : ''}${n.digest ? `@${n.digest}` : ''}`;
}
