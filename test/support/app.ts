// Driving the app end to end: `lighter console` on a given inventory, Debian's Chromium through
// playwright-core, axe-core injected from node_modules, and screenshots written to test-artifacts/
// (gitignored) for a reviewer to look at. An e2e file calls `useApp` once: it makes the temp dir
// and the inventory, runs the file's seed, starts the console and the browser, and tears all of it
// down after the file.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';

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

// The test tsconfig has no DOM types: what runs in the page is passed as source text.
const FOCUSED = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'body';
  const by = el.getAttribute('aria-labelledby');
  const name = (by ? document.getElementById(by)?.textContent : null) ?? el.getAttribute('aria-label') ?? (el.labels && el.labels[0] ? el.labels[0].textContent : null) ?? el.textContent ?? '';
  return el.tagName.toLowerCase() + ':' + name.trim();
})()`;

/** What has keyboard focus, as `tag:accessible name` (aria-labelledby, aria-label, an input's label, or its text), or `body`. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(FOCUSED) as Promise<string>;
}

/** Takes focus off whatever has it, so the next Tab starts from the top of the page. */
export async function blur(page: Page): Promise<void> {
  await page.evaluate('document.activeElement && document.activeElement.blur && document.activeElement.blur()');
}

/** Presses Tab (Shift+Tab with `back`) until `want` (as `focused` says it) has focus; fails naming where focus went. */
export async function tabTo(page: Page, want: string, opts: { back?: boolean; max?: number } = {}): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < (opts.max ?? 60); i++) {
    await page.keyboard.press(opts.back ? 'Shift+Tab' : 'Tab');
    const now = await focused(page);
    if (now === want) return;
    seen.push(now);
  }
  throw new Error(`Tab never reached ${want}; focus went ${seen.join(' → ')}`);
}

/** Pages whose file choosers Playwright intercepts for good (chooseFile). */
const intercepting = new WeakSet<Page>();

/**
 * Answers the file chooser that `opener` (a click or a key press) opens with `file`. Playwright
 * starts intercepting a page's file choosers only when a 'filechooser' listener is added, and
 * tells Chromium so without waiting (puppeteer/puppeteer#6040 has the same race): a key press sent
 * right after could open a real chooser that nobody answers, and every later press then opened
 * none (a CI run missed both attempts, 20 s, in e2e-shore's keyboard test). So a listener stays
 * on the page from its first chooser on, and a round trip to the page follows it before the first
 * opener. A miss still repeats the opener once.
 */
export async function chooseFile(page: Page, opener: () => Promise<void>, file: string): Promise<void> {
  if (!intercepting.has(page)) {
    page.on('filechooser', () => {});
    intercepting.add(page);
    await page.evaluate(() => 0);
  }
  for (let attempt = 1; ; attempt++) {
    const chooser = page.waitForEvent('filechooser', { timeout: 10_000 });
    await opener();
    try {
      await (await chooser).setFiles(file);
      return;
    } catch (err) {
      if (attempt === 2) throw err;
    }
  }
}

/** The e2e file's app: filled in by `useApp`'s beforeAll, valid inside tests. */
export interface AppSession {
  /** the file's own temp dir, removed after the file */
  dir: string;
  /** the inventory the console serves, `dir/lighter.db` (initialised before the seed runs) */
  db: string;
  console: Console;
  browser: BrowserContext;
  /** the page opened on the console's URL, and the console errors and exceptions it recorded */
  page: Page;
  problems: string[];
  /** `lighter ARGS...` as the test's user (LIGHTER_USER=ana), its stdout */
  lighter(...args: string[]): string;
  /** another page, recording its own problems */
  open(url: string): Promise<{ page: Page; problems: string[] }>;
  /** another console (on another inventory), stopped after the file */
  startConsole(db: string): Promise<Console>;
  /** axe-core finds nothing serious or critical on `page` (default: the session's page) */
  expectAccessible(view: string, page?: Page): Promise<void>;
}

export interface AppOptions {
  /** fills the inventory before the console starts; may start servers the console needs */
  seed?(s: Pick<AppSession, 'dir' | 'db' | 'lighter'>): Promise<void> | void;
  /** the console's environment on top of process.env and the defaults; read after the seed ran */
  env?(): NodeJS.ProcessEnv;
  /** where the browser saves downloads (`dir/downloads`) */
  downloads?: boolean;
}

/**
 * Sets up the app for the e2e file it is called in (beforeAll/afterAll). The console runs as user
 * `ana` with its data directory in the temp dir, so nothing lands in the home directory.
 */
export function useApp(name: string, options: AppOptions = {}): AppSession {
  const consoles: Console[] = [];
  const s = {} as AppSession;
  beforeAll(async () => {
    s.dir = mkdtempSync(join(tmpdir(), `lighter-${name}-`));
    s.db = join(s.dir, 'lighter.db');
    const env = { ...process.env, LIGHTER_USER: 'ana', LIGHTER_DATA_DIR: s.dir };
    s.lighter = (...args) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
    s.lighter('db', 'init', '--db', s.db);
    await options.seed?.(s);
    const consoleEnv = { ...env, ...options.env?.() };
    s.startConsole = async (db) => {
      const c = await startConsole(db, consoleEnv);
      consoles.push(c);
      return c;
    };
    s.console = await s.startConsole(s.db);
    s.browser = await launchBrowser(join(s.dir, 'chromium'), options.downloads ? join(s.dir, 'downloads') : undefined);
    s.open = (url) => openPage(s.browser, url);
    s.expectAccessible = async (view, page = s.page) => expect(await seriousViolations(page), `axe on ${view}`).toEqual([]);
    ({ page: s.page, problems: s.problems } = await s.open(s.console.url));
  }, 300_000);
  afterAll(async () => {
    await s.browser?.close();
    for (const c of consoles) await stopConsole(c);
    if (s.dir) rmSync(s.dir, { recursive: true, force: true });
  });
  return s;
}
