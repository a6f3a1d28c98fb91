// Checks a manifest against IoT Hub's twin limits before anyone tries to push it: IoT Hub rejects
// the whole deployment otherwise, often only once the device is reachable. Limits and the size rule
// are Microsoft's ("Understand and use device twins in IoT Hub", tags/desired/reported section):
// each module's desired properties ≤ 32 KB, computed as the sum of key and value lengths (strings as
// UTF-8, numbers 8 bytes, booleans 4); string values ≤ 4 KB; keys ≤ 1 KB without control
// characters, '.', '$' or space; objects nested at most 10 deep.
import { isObject, type JsonObject } from './manifest.js';

export const IOT_HUB_LIMITS = { sectionBytes: 32 * 1024, valueBytes: 4 * 1024, keyBytes: 1024, depth: 10 } as const;

export interface LintIssue {
  /** the twin section, e.g. "$edgeAgent" */
  section: string;
  /** the property path inside it */
  path: string;
  rule: 'section-size' | 'value-size' | 'key-size' | 'key-chars' | 'depth';
  message: string;
}

export function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

const BAD_KEY = /[\u0000-\u001f\u007f-\u009f.$ ]/;

function walk(value: unknown, section: string, path: string, depth: number, issues: LintIssue[]): number {
  if (typeof value === 'string') {
    const n = utf8Length(value);
    if (n > IOT_HUB_LIMITS.valueBytes) {
      issues.push({ section, path, rule: 'value-size', message: `${section} ${path}: string value is ${n} bytes (limit ${IOT_HUB_LIMITS.valueBytes})` });
    }
    return n;
  }
  if (typeof value === 'number') return 8;
  if (typeof value === 'boolean') return 4;
  if (value === null) return 0;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as object);
  if (depth > IOT_HUB_LIMITS.depth) {
    issues.push({ section, path, rule: 'depth', message: `${section} ${path}: nested ${depth} levels deep (limit ${IOT_HUB_LIMITS.depth})` });
  }
  let total = 0;
  for (const [k, v] of entries) {
    const p = path ? `${path}.${k}` : k;
    if (!Array.isArray(value)) {
      const kn = utf8Length(k);
      if (kn > IOT_HUB_LIMITS.keyBytes) issues.push({ section, path: p, rule: 'key-size', message: `${section} ${p}: key is ${kn} bytes (limit ${IOT_HUB_LIMITS.keyBytes})` });
      if (BAD_KEY.test(k)) issues.push({ section, path: p, rule: 'key-chars', message: `${section} ${p}: key contains '.', '$', a space or a control character` });
      total += kn;
    }
    total += walk(v, section, p, depth + 1, issues);
  }
  return total;
}

/** Size of a twin section as IoT Hub counts it. */
export function twinSectionSize(desired: JsonObject): number {
  return walk(desired, '', '', 1, []);
}

export function lintManifest(content: { modulesContent: JsonObject }): LintIssue[] {
  const issues: LintIssue[] = [];
  for (const [section, twin] of Object.entries(content.modulesContent)) {
    const desired = isObject(twin) ? twin['properties.desired'] : undefined;
    if (!isObject(desired)) continue;
    const size = walk(desired, section, '', 1, issues);
    if (size > IOT_HUB_LIMITS.sectionBytes) {
      issues.push({ section, path: '', rule: 'section-size', message: `${section} desired properties are ${size} bytes (limit ${IOT_HUB_LIMITS.sectionBytes})` });
    }
  }
  return issues;
}
