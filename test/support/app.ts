// Driving the app end to end: `lighter console` on a given inventory, Debian's Chromium through
// playwright-core, axe-core injected from node_modules, and screenshots written to test-artifacts/
// (gitignored) for a reviewer to look at.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'bin', 'lighter.js');
export const ARTIFACTS = join(ROOT, 'test-artifacts');

export interface Console {
  child: ChildProcess;
  url: string;
  origin: string;
  stderr(): string;
}

export function startConsole(db: string, env: NodeJS.ProcessEnv = {}): Promise<Console> {
  const child = spawn(process.execPath, [CLI, 'console', '--no-open', '--port', '0', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)\/#token=[\w-]+/.exec(out);
      if (m) ok({ child, url: m[0], origin: m[1]!, stderr: () => err });
    });
    child.on('exit', (code) => fail(new Error(`lighter console exited ${code}: ${err}`)));
  });
}

export function stopConsole(c: Console | undefined): Promise<number | null> {
  if (!c || c.child.exitCode !== null) return Promise.resolve(c?.child.exitCode ?? null);
  return new Promise((ok) => {
    c.child.removeAllListeners('exit');
    c.child.once('exit', (code) => ok(code));
    c.child.kill('SIGTERM');
  });
}

export function launchBrowser(profileDir: string, downloads?: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
    ...(downloads ? { downloadsPath: downloads } : {}),
  });
}

/** A fresh page that records every console error and uncaught exception (CSP violations included). */
export async function openPage(browser: BrowserContext, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(url);
  return { page, problems };
}

const AXE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now, as "rule: target" lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // injected as a script element's text would break the CSP; evaluate runs it in the page directly
  await page.evaluate(AXE);
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as {
    violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }>;
  };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help} at ${n.target.join(' ')}`));
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Picks a role on the first-start screen by keyboard. */
export async function chooseRole(page: Page, label: 'Shore engineer' | 'Crew' | 'Supervisor'): Promise<void> {
  const card = page.getByRole('button', { name: new RegExp(`^${label}`) });
  await card.focus();
  await page.keyboard.press('Enter');
}
