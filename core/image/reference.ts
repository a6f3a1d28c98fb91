// Image references in skopeo's transport syntax, the one syntax Lighter accepts everywhere:
//   docker-archive:PATH[:name:tag]  oci:DIR[:tag]  docker-daemon:NAME:TAG  docker://HOST/REPO:TAG|@digest
import { isDigest } from './descriptor.js';

export type ImageReference =
  | { transport: 'docker-archive'; path: string; /** "name:tag", normalised */ tag?: string }
  | { transport: 'oci'; path: string; tag?: string }
  | { transport: 'docker-daemon'; /** "name:tag" or an image ID "sha256:…" */ name: string }
  | { transport: 'docker'; host: string; repository: string; tag?: string; digest?: string };

const REPO_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const OCI_REF_NAME = /^[A-Za-z0-9._:@/+-]+$/;
const DEFAULT_HOST = 'docker.io';

/** Splits "host/repo:tag" / "repo@sha256:…" into its parts, applying Docker's defaults (docker.io, library/, latest). */
export function parseDockerName(s: string): { host: string; repository: string; tag?: string; digest?: string } {
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    // (only what follows the @ is quoted: before it may be USER:PASS of a mistaken USER:PASS@HOST)
    if (!isDigest(digest)) throw new Error(`invalid digest ${JSON.stringify(digest)} after @ in an image name`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new Error(`invalid tag ${JSON.stringify(tag)} in image name ${JSON.stringify(s)}`);
  }
  const parts = rest.split('/');
  let host = DEFAULT_HOST;
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) host = parts.shift()!;
  if (host === DEFAULT_HOST && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!REPO_COMPONENT.test(p)) throw new Error(`invalid repository name ${JSON.stringify(rest)} in ${JSON.stringify(s)} (lower-case letters, digits and . _ - only)`);
  }
  if (!tag && !digest) tag = 'latest';
  return { host, repository: parts.join('/'), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** "name:tag" as Docker records it in RepoTags (docker.io/library/ dropped). */
export function familiarTag(n: { host: string; repository: string; tag?: string }): string {
  const repo = n.host === DEFAULT_HOST ? n.repository.replace(/^library\//, '') : `${n.host}/${n.repository}`;
  return `${repo}:${n.tag ?? 'latest'}`;
}

function splitOnce(s: string): [string, string | undefined] {
  const i = s.indexOf(':');
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

export function parseReference(ref: string): ImageReference {
  const colon = ref.indexOf(':');
  const transport = colon < 0 ? '' : ref.slice(0, colon);
  const body = ref.slice(colon + 1);
  switch (transport) {
    case 'docker-archive': {
      const [path, name] = splitOnce(body);
      if (!path) throw new Error(`${ref}: docker-archive needs a path`);
      if (name === undefined || name === '') return { transport, path };
      const n = parseDockerName(name);
      if (n.digest) throw new Error(`${ref}: a docker-archive name cannot use a digest`);
      return { transport, path, tag: familiarTag(n) };
    }
    case 'oci': {
      const [path, tag] = splitOnce(body);
      if (!path) throw new Error(`${ref}: oci needs a directory`);
      if (tag === undefined || tag === '') return { transport, path };
      if (!OCI_REF_NAME.test(tag)) throw new Error(`${ref}: invalid OCI reference name ${JSON.stringify(tag)}`);
      return { transport, path, tag };
    }
    case 'docker-daemon': {
      if (isDigest(body)) return { transport, name: body };
      const n = parseDockerName(body);
      if (n.digest) throw new Error(`${ref}: docker-daemon takes NAME:TAG or an image ID, not a digest reference`);
      return { transport, name: familiarTag(n) };
    }
    case 'docker': {
      if (!body.startsWith('//')) throw new Error(`${ref}: docker references look like docker://HOST/REPO:TAG`);
      // USER:PASS@HOST would put a password where every message and log line quoting the
      // reference shows it: refused without quoting it
      const parts = body.slice(2).split('/');
      if (parts.length > 1 && parts[0]!.includes('@')) throw new Error('a docker:// reference carries no credentials (USER:PASS@HOST); give them to the command separately (lighter: --creds-file or $LIGHTER_REGISTRY_CREDS)');
      return { transport, ...parseDockerName(body.slice(2)) };
    }
    default:
      throw new Error(`${JSON.stringify(ref)} is not an image reference (use docker-archive:PATH, oci:DIR[:tag], docker-daemon:NAME:TAG or docker://HOST/REPO:TAG)`);
  }
}
