import { describe, expect, it } from 'vitest';
import { parseChallenge, scopeCovered, scopesText } from './client.js';
import { isLoopback } from './http.js';

describe('registry HTTP helpers', () => {
  it('knows loopback hosts, where plain HTTP is allowed', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.9.8.7', '[::1]:5000']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['10.0.0.1:5000', 'myacr.azurecr.io', '127.0.0.1.evil.example', '[::2]:5000', 'localhost.example']) expect(isLoopback(h), h).toBe(false);
  });

  it('parses WWW-Authenticate challenges', () => {
    expect(parseChallenge('Bearer realm="https://myacr.azurecr.io/oauth2/token",service="myacr.azurecr.io",scope="repository:app:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://myacr.azurecr.io/oauth2/token', service: 'myacr.azurecr.io', scope: 'repository:app:pull' },
    });
    expect(parseChallenge('Basic realm="lighter-test"')).toEqual({ scheme: 'basic', params: { realm: 'lighter-test' } });
  });

  it('compares token scopes by resource and actions, whatever order the registry lists them in', () => {
    const have = ['repository:app:pull,push', 'repository:base:pull'];
    expect(scopeCovered('repository:app:push,pull', have)).toBe(true); // failed when compared as text
    expect(scopeCovered('repository:app:pull', have)).toBe(true);
    expect(scopeCovered('repository:base:pull,push', have)).toBe(false);
    expect(scopeCovered('registry:catalog:*', have)).toBe(false);
    expect(scopeCovered('repository:app:pull,push', ['repository:app:pull', 'repository:app:push'])).toBe(true);
  });

  it('names scopes in errors with their actions sorted, so a message reads the same whatever order the registry chose', () => {
    // test/registry-scope failed in CI when docker-registry listed "push,pull" in its challenge
    expect(scopesText('repository:app:push,pull repository:base:pull')).toBe('repository:app:pull,push repository:base:pull');
    expect(scopesText('repository:app:pull,push')).toBe('repository:app:pull,push');
  });
});
