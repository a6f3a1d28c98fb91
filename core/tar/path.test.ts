import { describe, expect, it } from 'vitest';
import { normalisePath, pathFault, resolveLink } from './path.js';

describe('the one tar path normaliser', () => {
  it.each([
    ['./etc/', 'etc'],
    ['././a//b/./c', 'a/b/c'],
    ['./', ''],
    ['usr/bin', 'usr/bin'],
  ])('normalises %j to %j', (raw, want) => expect(normalisePath(raw)).toBe(want));

  it.each([
    ['../etc/passwd', 'parent'],
    ['usr/../../etc', 'parent'],
    ['a/..', 'parent'],
    ['/etc/passwd', 'absolute'],
    ['a\0b', 'nul'],
    ['./a/b..c/.d', undefined],
  ])('judges %j: %s', (raw, fault) => expect(pathFault(raw)).toBe(fault));

  it('resolves relative symlinks inside the tree and refuses those that leave it', () => {
    expect(resolveLink('usr/bin/sh', '../lib/x')).toBe('usr/lib/x');
    expect(resolveLink('./usr/bin/sh', './dash')).toBe('usr/bin/dash');
    expect(resolveLink('a/link', '../../x')).toBeUndefined();
    expect(resolveLink('link', '/etc')).toBeUndefined();
  });
});
