// The Docker image name inside a skopeo-syntax reference, for recording what a device holds:
// docker://host/repo:tag, docker-daemon:repo:tag, docker-archive:/path.tar:repo:tag, or a bare name.
// References that carry no name (oci: layouts, archives without one) need one given explicitly.
export function imageNameFromRef(ref: string): string | null {
  const transport = /^([a-z-]+):(.*)$/.exec(ref);
  if (!transport || !['docker', 'docker-daemon', 'docker-archive', 'oci', 'oci-archive', 'dir'].includes(transport[1]!)) return ref;
  const [, kind, rest] = transport as unknown as [string, string, string];
  switch (kind) {
    case 'docker':
      if (!rest.startsWith('//')) throw new Error(`invalid reference ${JSON.stringify(ref)}: docker transport needs docker://name`);
      return rest.slice(2);
    case 'docker-daemon':
      return rest;
    case 'docker-archive': {
      // path[:name:tag]: the name starts after the path's first colon, if any.
      const i = rest.indexOf(':');
      return i >= 0 ? rest.slice(i + 1) : null;
    }
    default:
      return null;
  }
}
