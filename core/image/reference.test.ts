import { describe, expect, it } from 'vitest';
import { parseReference } from './reference.js';

describe('parseReference', () => {
  it('reads every transport of skopeo’s syntax', () => {
    expect(parseReference('docker-archive:/x/app.tar')).toEqual({ transport: 'docker-archive', path: '/x/app.tar' });
    expect(parseReference('docker-archive:/x/app.tar:app:v1')).toEqual({ transport: 'docker-archive', path: '/x/app.tar', tag: 'app:v1' });
    expect(parseReference('docker-archive:app.tar:localhost:5000/team/app')).toEqual({ transport: 'docker-archive', path: 'app.tar', tag: 'localhost:5000/team/app:latest' });
    expect(parseReference('oci:/layouts/app:v2')).toEqual({ transport: 'oci', path: '/layouts/app', tag: 'v2' });
    expect(parseReference('oci:/layouts/app')).toEqual({ transport: 'oci', path: '/layouts/app' });
    expect(parseReference('docker-daemon:app:v1')).toEqual({ transport: 'docker-daemon', name: 'app:v1' });
    expect(parseReference('docker-daemon:docker.io/library/debian:12')).toEqual({ transport: 'docker-daemon', name: 'debian:12' });
    expect(parseReference('docker://127.0.0.1:5000/team/app:1.2')).toEqual({ transport: 'docker', host: '127.0.0.1:5000', repository: 'team/app', tag: '1.2' });
    expect(parseReference('docker://myacr.azurecr.io/app')).toEqual({ transport: 'docker', host: 'myacr.azurecr.io', repository: 'app', tag: 'latest' });
    expect(parseReference('docker://debian')).toEqual({ transport: 'docker', host: 'docker.io', repository: 'library/debian', tag: 'latest' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`docker://r.example/app@${d}`)).toEqual({ transport: 'docker', host: 'r.example', repository: 'app', digest: d });
  });

  it('rejects what is not a reference, saying why', () => {
    expect(() => parseReference('/x/app.tar')).toThrow(/is not an image reference/);
    expect(() => parseReference('docker:r.example/app')).toThrow(/docker:\/\/HOST\/REPO:TAG/);
    expect(() => parseReference('docker://r.example/App')).toThrow(/invalid repository name/);
    expect(() => parseReference('docker://r.example/app@sha256:12')).toThrow(/invalid digest/);
    expect(() => parseReference('docker-archive:')).toThrow(/needs a path/);
  });

  it('refuses credentials in a docker reference without quoting them', () => {
    for (const ref of ['docker://bob:hunter2@r.example/app:1', 'docker://bob:hunter2@r.example']) {
      let message = '';
      try {
        parseReference(ref);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/credentials|invalid digest/);
      expect(message).not.toContain('hunter2');
    }
    expect(parseReference('docker://r.example/app@sha256:' + 'a'.repeat(64)).transport).toBe('docker');
    expect(() => parseReference('oci:dir:bad tag')).toThrow(/invalid OCI reference name/);
  });
});
