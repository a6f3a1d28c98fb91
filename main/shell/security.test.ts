// The shell's checks, in plain Node: which frames may call IPC, when secrets may be stored.
import { describe, expect, it } from 'vitest';
import { isTrustedSender, secureStorageProblem, trustedPage } from './security.js';

const page = trustedPage('/opt/Lighter/resources/app.asar/renderer/dist/index.html');
const top = (url: string) => ({ url, parent: null });

describe('IPC sender validation', () => {
  it('accepts only our renderer page as the top frame', () => {
    expect(page).toBe('file:///opt/Lighter/resources/app.asar/renderer/dist/index.html');
    expect(isTrustedSender(top(page), page)).toBe(true);
    expect(isTrustedSender(top(`${page}#/fleet`), page)).toBe(true);
  });

  it('refuses other pages, other schemes, sub-frames and missing frames', () => {
    expect(isTrustedSender(top('file:///tmp/evil/index.html'), page)).toBe(false);
    expect(isTrustedSender(top('file://evil-host/opt/Lighter/resources/app.asar/renderer/dist/index.html'), page)).toBe(false);
    expect(isTrustedSender(top('https://example.com/opt/Lighter/resources/app.asar/renderer/dist/index.html'), page)).toBe(false);
    expect(isTrustedSender({ url: page, parent: top('https://example.com/') }, page)).toBe(false);
    expect(isTrustedSender(top('not a url'), page)).toBe(false);
    expect(isTrustedSender(null, page)).toBe(false);
  });
});

describe('secret storage', () => {
  it('refuses when the keychain is unavailable or Linux falls back to a plain-text key', () => {
    expect(secureStorageProblem('linux', false, null)).toMatch(/keychain is not available/);
    expect(secureStorageProblem('linux', true, 'basic_text')).toMatch(/no keyring is running.*basic_text/);
    expect(secureStorageProblem('linux', true, 'unknown')).toMatch(/no keyring/);
  });

  it('allows a real keyring or an OS keychain', () => {
    expect(secureStorageProblem('linux', true, 'gnome_libsecret')).toBeNull();
    expect(secureStorageProblem('linux', true, 'kwallet5')).toBeNull();
    expect(secureStorageProblem('darwin', true, null)).toBeNull();
    expect(secureStorageProblem('win32', true, null)).toBeNull();
  });
});
