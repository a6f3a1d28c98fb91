// Reads a stick as hostile input: the signed index first (bounded, signature before parsing), then
// every file under lighter/ against it. Files are copied into a staging area while being hashed, so
// what is applied later is the verified copy, never the stick again. Every problem is named with its
// own code; `._*` (macOS metadata) and partial files an export left are ignored, and said so.
import { createReadStream, promises as fs } from 'node:fs';
import { verify, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { BUNDLES_DIR, INDEX_FILE, indexSigningBytes, MAX_INDEX_BYTES, signedIndexSchema, stickIndexSchema, UsbError, type Piece, type StickIndex } from '../../core/usb/stick.js';
import { writeFileAtomic } from '../../io/atomic-file.js';
import { DigestMismatchError, VerifyingStream } from '../../io/digest.js';
import { keyIdOf } from '../../io/keys.js';
import { asReadError } from './files.js';

const PARTIAL = '.lighter-partial-';
const APPLE_DOUBLE = '._';

export interface Problem {
  code: UsbError['code'];
  file: string;
  detail: string;
}

export class StickRejected extends UsbError {
  constructor(readonly problems: Problem[]) {
    super(problems[0]!.code, `${problems.length} problem(s) on the stick, nothing applied: ${problems.map((p) => `${p.file}: ${p.code}: ${p.detail}`).join('; ')}`);
  }
}

export async function readIndex(dir: string, bundleKey: KeyObject): Promise<StickIndex> {
  const path = join(dir, INDEX_FILE);
  let text: string;
  try {
    const st = await fs.lstat(path);
    if (!st.isFile()) throw new UsbError('unsafe-entry', `${INDEX_FILE} is not a regular file`);
    if (st.size > MAX_INDEX_BYTES) throw new UsbError('bad-index', `${INDEX_FILE} is ${st.size} bytes, over the ${MAX_INDEX_BYTES}-byte limit`);
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsbError('no-index', `${path} does not exist: not a Lighter stick, or the export did not finish`);
    throw asReadError(err, INDEX_FILE);
  }
  let outer: { index?: unknown; signature: string };
  try {
    outer = signedIndexSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new UsbError('bad-index', `${INDEX_FILE} is not a signed index (${err instanceof SyntaxError ? err.message : 'want {index, signature}'})`);
  }
  const signer = (outer.index as { signer?: unknown } | null)?.signer;
  const want = keyIdOf(bundleKey);
  if (signer !== want) throw new UsbError('wrong-key', `the index is signed by ${String(signer)}, not by the bundle key ${want}`);
  const parsed = stickIndexSchema.safeParse(outer.index);
  // The signature covers the canonical form of the parsed index; a field the schema drops or a
  // value it would coerce makes the check fail, which is what altered content should do.
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsbError('bad-index', `${INDEX_FILE}: ${issue.path.join('.') || 'index'}: ${issue.message}`);
  }
  if (!verify(null, indexSigningBytes(parsed.data), bundleKey, Buffer.from(outer.signature, 'base64'))) {
    throw new UsbError('bad-signature', `${INDEX_FILE} does not match its signature: it was altered or damaged after export`);
  }
  return parsed.data;
}

export interface StickCheck {
  /** files ignored, with why */
  ignored: string[];
  /** pieces verified and staged, by file name */
  staged: Map<string, string>;
}

/** Checks every file under lighter/ against the index and stages this stick's pieces; throws StickRejected. */
export async function verifyAndStage(dir: string, index: StickIndex, stageDir: string, onBytes?: (n: number) => void): Promise<StickCheck> {
  const problems: Problem[] = [];
  const ignored: string[] = [];
  const mine = new Map<string, Piece>(index.bundles.flatMap((b) => b.pieces.filter((p) => p.stick === index.stick.number).map((p) => [p.file, p] as const)));
  const elsewhere = new Map<string, Piece>(index.bundles.flatMap((b) => b.pieces.filter((p) => p.stick !== index.stick.number).map((p) => [p.file, p] as const)));

  const list = async (rel: string): Promise<string[]> => {
    try {
      return await fs.readdir(join(dir, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw asReadError(err, rel);
    }
  };
  for (const name of await list('lighter')) {
    if (name === 'index.json' || name === 'bundles') continue;
    if (name.startsWith(APPLE_DOUBLE) || name.startsWith(PARTIAL)) ignored.push(`lighter/${name}`);
    else problems.push({ code: 'unexpected-file', file: `lighter/${name}`, detail: 'not part of a stick; the signed index does not list it' });
  }
  const present = new Set<string>();
  for (const name of await list(BUNDLES_DIR)) {
    const rel = `${BUNDLES_DIR}/${name}`;
    if (name.startsWith(APPLE_DOUBLE)) {
      ignored.push(`${rel} (macOS metadata)`);
      continue;
    }
    if (name.startsWith(PARTIAL)) {
      ignored.push(`${rel} (left by an interrupted export)`);
      continue;
    }
    if (!mine.has(name)) {
      const other = elsewhere.get(name);
      problems.push({ code: 'unexpected-file', file: rel, detail: other ? `the index puts it on stick ${other.stick}, not on this one` : 'the signed index does not list it' });
      continue;
    }
    present.add(name);
  }
  await fs.mkdir(stageDir, { recursive: true });
  const staged = new Map<string, string>();
  for (const [name, piece] of mine) {
    const rel = `${BUNDLES_DIR}/${name}`;
    if (!present.has(name)) {
      problems.push({ code: 'missing-file', file: rel, detail: `the index puts it on this stick (${piece.size} bytes); it is not there` });
      continue;
    }
    const path = join(dir, rel);
    try {
      const st = await fs.lstat(path);
      if (!st.isFile()) {
        problems.push({ code: 'unsafe-entry', file: rel, detail: `a ${st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'special file'}, not a regular file` });
        continue;
      }
      if (st.size !== piece.size) {
        problems.push({ code: 'size-mismatch', file: rel, detail: `${st.size} bytes, the index says ${piece.size} (${st.size < piece.size ? 'truncated' : 'grown'})` });
        continue;
      }
      const out = join(stageDir, name);
      const source = createReadStream(path);
      const check = new VerifyingStream(rel, { digest: piece.sha256, size: piece.size });
      source.on('error', (err) => check.destroy(err));
      source.on('data', (c) => onBytes?.((c as Buffer).length));
      await writeFileAtomic(out, source.pipe(check));
      staged.set(name, out);
    } catch (err) {
      if (err instanceof DigestMismatchError) problems.push({ code: 'digest-mismatch', file: rel, detail: `its bytes hash to ${err.actual}, the index says ${err.expected} (altered or corrupted)` });
      else if (asReadError(err, rel) instanceof UsbError) problems.push({ code: 'read-error', file: rel, detail: `the medium failed to read (${(err as NodeJS.ErrnoException).code}); not tampering: retry, or copy the stick again` });
      else if (err instanceof Error && /truncated|larger than/.test(err.message)) problems.push({ code: 'size-mismatch', file: rel, detail: err.message });
      else throw err;
    }
  }
  if (problems.length > 0) throw new StickRejected(problems);
  return { ignored, staged };
}
