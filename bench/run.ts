// `npm run bench -- DIR`: for each pair in DIR/pairs.tsv (scenario, base archive or "-", target
// archive), in one run, Lighter's patch against the peers DESIGN.md names, all on the same input
// (the docker-save archives): bytes, build seconds and peak RSS, apply seconds and peak RSS, and
// whether the rebuilt image is exactly the target. Writes docs/bench.md.
// Every tool runs as a child under /usr/bin/time -f so peak RSS is measured the same way for all.
// BENCH_ROWS=FILE keeps every row measured (with when, at what load, at which commit) in FILE and
// writes the report from all of them: a later run with BENCH_TOOLS=lighter re-measures Lighter's
// rows and keeps the peers', which do not change between commits and take hours to re-run.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync, promises as fs, readFileSync } from 'node:fs';
import { loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalisePath } from '../core/tar/path.js';
import { readTarLayout } from '../core/tar/reader.js';
import { spool } from '../io/delta/file-source.js';
import { openSource } from '../io/image/transport.js';
import { generateKeys } from '../io/keys.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIGHTER = join(ROOT, 'bin', 'lighter.js');
/** bsdiff needs ~17× the base in memory; bases it could not sort in 60% of this machine's memory are left out. */
const BSDIFF_MAX_BASE = process.env.BENCH_BSDIFF_MAX_MB ? Number(process.env.BENCH_BSDIFF_MAX_MB) * 2 ** 20 : (totalmem() * 0.6) / 17;
/** hdiffz -m (suffix array of the old file, 8 bytes per byte over 2 GiB, plus both files) needs ~10× the base; same rule. */
const HDIFF_MAX_BASE = (totalmem() * 0.6) / 10;
/** The floor coders run on at most this much new content (zpaq -m5 codes ~0.1–0.2 MB/s here). */
const FLOOR_MAX_BYTES = 64 << 20;

/** The commit whose Lighter is measured (dist/ is built from the work tree; "+" when it has changes). */
const COMMIT = (() => {
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${head}+` : head;
  } catch {
    return 'unknown';
  }
})();

/** Whether a peer's command is installed (peers that are not are left out of the run, and the table says so). */
function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v "$0"`, cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Run {
  seconds: number;
  /** user + system CPU seconds: what load stretches least (wall time on a shared machine is noise) */
  cpu: number;
  rssMB: number;
}

// Every timed tool runs without NODE_EXTRA_CA_CERTS: this machine sets it to the whole system CA
// bundle (144 certificates) for its proxies, and Node parses that at every start, ~50 ms of CPU
// (`node -e 0`: 70 against 20 ms) that no device pays and no native peer pays here.
const TOOL_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));

function timed(cmd: string, args: string[], opts: { stdout?: string } = {}): Promise<Run> {
  const fmt = '%e %U %S %M';
  const shell = opts.stdout ? ['sh', '-c', `exec "$0" "$@" > '${opts.stdout.replace(/'/g, "'\\''")}'`, cmd, ...args] : [cmd, ...args];
  return new Promise((res, rej) => {
    execFile('/usr/bin/time', ['-f', fmt, ...shell], { maxBuffer: 64 << 20, env: TOOL_ENV }, (err, _out, stderr) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)$/.exec(last);
      if (err || !m) return rej(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim().slice(-500)}`));
      res({ seconds: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMB: Number(m[4]) / 1024 });
    });
  });
}

/**
 * Applies are short (0.2-5 s) and this host's times drift by 1.5 x within minutes (runtime-update's
 * apply: 4.4 s of CPU, then 6.7 s five minutes later), so a pair's applies are timed together once
 * every tool has built: APPLY_RUNS rounds, each tool once a round (the order turned by one each
 * round), and each tool's run of median wall time kept. Timed one tool after another, Lighter's three
 * runs and HDiffPatch's fell minutes apart and their ratio moved with the drift (runtime-update: 5.1
 * in one run, 2.9 measured alternately at about the same time). Between runs the last output is
 * removed and `sync` flushes what is dirty, untimed, so that no run writes back another's output
 * (the peers leave theirs in the page cache; Lighter's commit fsyncs its own, and that is timed).
 */
const APPLY_RUNS = 3;

/** An apply to time with the pair's others: the command, the file it writes, and the check of its first output. */
interface PendingApply {
  row: Row;
  cmd: string;
  args: string[];
  output: string;
  check(): Promise<string>;
}

async function timeApplies(applies: PendingApply[], log: (r: Row) => void): Promise<void> {
  const runs = applies.map((): Run[] => []);
  for (let round = 0; round < APPLY_RUNS; round++) {
    for (let k = 0; k < applies.length; k++) {
      const i = (k + round) % applies.length;
      const a = applies[i]!;
      await fs.rm(a.output, { force: true });
      execFileSync('sync');
      runs[i]!.push(await timed(a.cmd, a.args));
      if (round === 0) a.row.ok = await a.check();
      await fs.rm(a.output, { force: true });
    }
  }
  applies.forEach((a, i) => log({ ...a.row, apply: runs[i]!.sort((x, y) => x.seconds - y.seconds)[Math.floor(APPLY_RUNS / 2)]! }));
}

async function fileSha(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

const size = async (p: string) => (await fs.stat(p)).size;

interface Row {
  scenario: string;
  tool: string;
  bytes: number;
  build?: Run;
  apply?: Run;
  ok: string;
  /** A floor row: the bytes of new content it compressed. */
  input?: number;
  /** Lighter's row: the signed bundle sealed around its patch, and what the signatures estimated for it. */
  bundle?: number;
  estimate?: number;
  /** When it was measured (ISO time), the 1-minute load average then, and Lighter's commit. */
  at?: string;
  load?: number;
  commit?: string;
}

/** The rebuilt image must have the target's config digest and diffIDs. */
async function sameImage(rebuiltRef: string, targetRef: string): Promise<boolean> {
  const [a, b] = await Promise.all([openSource(rebuiltRef), openSource(targetRef)]);
  try {
    const [x, y] = await Promise.all([a.info(), b.info()]);
    return x.configDigest === y.configDigest && x.layers.map((l) => l.diffID).join() === y.layers.map((l) => l.diffID).join();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/** Tools a run can select with BENCH_TOOLS (default: all), e.g. to re-time Lighter against xdelta3 alone. */
const TOOLS = new Set((process.env.BENCH_TOOLS ?? 'lighter,xdelta3,zstd,bsdiff,hdiffpatch,floor,gzip,xz').split(','));

interface Pair {
  scenario: string;
  base: string | undefined;
  target: string;
  targetSha: string;
  out(name: string): string;
  log(r: Row): void;
  /** The applies built so far, timed together once every tool has built. */
  applies: PendingApply[];
}

async function benchLighter({ scenario, base, target, out }: Pair): Promise<PendingApply> {
  const patch = out('lighter');
  const build = await timed(LIGHTER, ['diff', ...(base ? ['--from', `docker-archive:${base}`] : []), '--to', `docker-archive:${target}`, '-o', patch]);
  const rebuilt = out('rebuilt.tar');
  return {
    row: { scenario, tool: 'lighter', bytes: await size(patch), build, ok: '', ...(await sealed(base, target, patch, out('bundle'))) },
    cmd: LIGHTER,
    args: ['patch', ...(base ? ['--from', `docker-archive:${base}`] : []), patch, '--to', `docker-archive:${rebuilt}:bench/rebuilt:latest`],
    output: rebuilt,
    check: async () => ((await sameImage(`docker-archive:${rebuilt}`, `docker-archive:${target}`)) ? 'image identical' : 'MISMATCH'),
  };
}

/**
 * The signed bundle `lighter bundle build --patch` seals around the patch (what a device is sent),
 * and the estimate the planner shows for it, from the two images' signatures (issue 15: within ±30%).
 */
async function sealed(base: string | undefined, target: string, patch: string, bundle: string): Promise<{ bundle: number; estimate: number }> {
  const keys = await generateKeys(`${bundle}.keys`);
  const args = ['bundle', 'build', '--to', `docker-archive:${target}`, ...(base ? ['--from', `docker-archive:${base}`] : []), '--patch', patch, '--key', keys.privateKey, '--version', '1', '-o', bundle, '--json'];
  const r = JSON.parse(execFileSync(LIGHTER, args, { encoding: 'utf8', maxBuffer: 64 << 20 })) as { bytes: number; estimate: number };
  await fs.rm(bundle, { force: true });
  await fs.rm(`${bundle}.keys`, { recursive: true, force: true });
  return { bundle: r.bytes, estimate: r.estimate };
}

/** A peer that encodes `target` (against `base` when given) into `file`; its apply decodes it back to `decoded`. */
async function benchPeer(p: Pair, tool: string, name: string, encode: (file: string) => [string, string[]], decode: (file: string, decoded: string) => [string, string[]]): Promise<void> {
  const file = p.out(name);
  const decoded = p.out(`${name}.out`);
  const build = await timed(...encode(file));
  const [cmd, args] = decode(file, decoded);
  p.applies.push({
    row: { scenario: p.scenario, tool, bytes: await size(file), build, ok: '' },
    cmd,
    args,
    output: decoded,
    check: async () => ((await fileSha(decoded)) === p.targetSha ? 'bytes identical' : 'MISMATCH'),
  });
}

async function benchDeltaPeers(p: Pair, base: string): Promise<void> {
  const baseSize = String(await size(base));
  if (TOOLS.has('xdelta3')) {
    await benchPeer(
      p,
      'xdelta3 -9',
      'xdelta3',
      (f) => ['xdelta3', ['-e', '-9', '-f', '-B', baseSize, '-s', base, p.target, f]],
      (f, d) => ['xdelta3', ['-d', '-f', '-B', baseSize, '-s', base, f, d]],
    );
  }
  if (TOOLS.has('zstd')) {
    await benchPeer(
      p,
      'zstd -19 --patch-from',
      'zst',
      (f) => ['zstd', ['-q', '-f', '-19', '--long=31', `--patch-from=${base}`, p.target, '-o', f]],
      (f, d) => ['zstd', ['-q', '-f', '-d', '--long=31', `--patch-from=${base}`, f, '-o', d]],
    );
  }
  if (TOOLS.has('bsdiff')) {
    if ((await size(base)) <= BSDIFF_MAX_BASE) {
      await benchPeer(
        p,
        'bsdiff',
        'bsdiff',
        (f) => ['bsdiff', [base, p.target, f]],
        (f, d) => ['bspatch', [base, d, f]],
      );
    } else {
      p.log({ scenario: p.scenario, tool: 'bsdiff', bytes: NaN, ok: `not run: needs ~${((17 * (await size(base))) / 2 ** 30).toFixed(1)} GiB` });
    }
  }
  if (TOOLS.has('hdiffpatch')) {
    if (!onPath('hdiffz') || !onPath('hpatchz')) p.log({ scenario: p.scenario, tool: HDIFF, bytes: NaN, ok: 'not run: hdiffz/hpatchz not on PATH' });
    else if ((await size(base)) > HDIFF_MAX_BASE) p.log({ scenario: p.scenario, tool: HDIFF, bytes: NaN, ok: `not run: needs ~${((10 * (await size(base))) / 2 ** 30).toFixed(1)} GiB` });
    else {
      await benchPeer(
        p,
        HDIFF,
        'hdiff',
        (f) => ['hdiffz', ['-m-6', '-SD', '-c-lzma2-9-16m', '-f', base, p.target, f]],
        (f, d) => ['hpatchz', ['-f', base, f, d]],
      );
    }
  }
  if (TOOLS.has('floor')) await benchFloor(p, base);
}

const HDIFF = 'hdiffpatch -m-6 -SD -c-lzma2-9-16m';
const FLOOR_TOOLS = ['floor: zpaq -m5', 'floor: xz -9e'];

/**
 * The floor (docs/bench.md, "The floor"): the content of the target's files that the base lacks,
 * concatenated, compressed by the strongest general coders. A file counts when it is a regular file
 * with content, in a target layer whose diffID the base does not have, at a path no base layer has,
 * and byte-identical to no base file (nor to a file counted before it). Changed files at a base path
 * are not counted: a delta tool may reuse their old version, so the floor stays a lower bound.
 */
async function newContent(base: string, target: string, out: string, scratch: string): Promise<number> {
  const paths = new Set<string>();
  const hashes = new Set<string>();
  const each = async (ref: string, fn: (diffID: string, file: Awaited<ReturnType<typeof spool>>) => Promise<void>) => {
    const src = await openSource(`docker-archive:${ref}`);
    try {
      const info = await src.info();
      for (let i = 0; i < info.layers.length; i++) {
        const tar = await spool(await src.openLayerTar(i), scratch);
        try {
          await fn(info.layers[i]!.diffID, tar);
        } finally {
          await tar.close();
          await fs.rm(scratch, { force: true });
        }
      }
    } finally {
      await src.close();
    }
  };
  const hashOf = async (file: Awaited<ReturnType<typeof spool>>, offset: number, n: number) => {
    const h = createHash('sha256');
    for (let o = 0; o < n; o += 1 << 20) h.update(await file.read(offset + o, Math.min(1 << 20, n - o)));
    return h.digest('hex');
  };
  const baseIDs = new Set<string>();
  await each(base, async (diffID, tar) => {
    baseIDs.add(diffID);
    for (const e of (await readTarLayout(tar)).entries) {
      paths.add(normalisePath(e.path));
      if (e.size > 0 && (e.type === '0' || e.type === '7')) hashes.add(await hashOf(tar, e.dataOffset, e.size));
    }
  });
  const sink = await fs.open(out, 'w');
  let total = 0;
  try {
    await each(target, async (diffID, tar) => {
      if (baseIDs.has(diffID)) return;
      for (const e of (await readTarLayout(tar)).entries) {
        if (e.size === 0 || (e.type !== '0' && e.type !== '7') || paths.has(normalisePath(e.path))) continue;
        const h = await hashOf(tar, e.dataOffset, e.size);
        if (hashes.has(h)) continue;
        hashes.add(h);
        for (let o = 0; o < e.size; o += 1 << 20) await sink.write(await tar.read(e.dataOffset + o, Math.min(1 << 20, e.size - o)));
        total += e.size;
      }
    });
  } finally {
    await sink.close();
  }
  return total;
}

async function benchFloor(p: Pair, base: string): Promise<void> {
  const content = p.out('new-content');
  const n = await newContent(base, p.target, content, p.out('floor-layer.tar'));
  if (n === 0 || n > FLOOR_MAX_BYTES) {
    for (const tool of FLOOR_TOOLS) p.log({ scenario: p.scenario, tool, bytes: n === 0 ? 0 : NaN, input: n, ok: n === 0 ? 'no new files' : `not run: ${fmtBytes(n)} of new content` });
  } else {
    const zpaq = p.out('floor.zpaq');
    await fs.rm(zpaq, { force: true });
    if (onPath('zpaq')) {
      const run = await timed('zpaq', ['a', zpaq, content, '-m5']);
      p.log({ scenario: p.scenario, tool: FLOOR_TOOLS[0]!, bytes: await size(zpaq), build: run, input: n, ok: '-' });
    } else p.log({ scenario: p.scenario, tool: FLOOR_TOOLS[0]!, bytes: NaN, ok: 'not run: zpaq not on PATH' });
    const xz = p.out('floor.xz');
    const run = await timed('xz', ['-9e', '-T1', '-c', content], { stdout: xz });
    p.log({ scenario: p.scenario, tool: FLOOR_TOOLS[1]!, bytes: await size(xz), build: run, input: n, ok: '-' });
    await fs.rm(zpaq, { force: true });
    await fs.rm(xz, { force: true });
  }
  await fs.rm(content, { force: true });
}

/** A first image: what a registry would send (each layer tar gzip -6), and zstd -19 --long=31 of the archive. */
async function benchFirstImagePeers(p: Pair): Promise<void> {
  if (TOOLS.has('gzip')) {
    const src = await openSource(`docker-archive:${p.target}`);
    let gz = 0;
    let gzRun: Run = { seconds: 0, cpu: 0, rssMB: 0 };
    try {
      const info = await src.info();
      for (let i = 0; i < info.layers.length; i++) {
        const tar = p.out(`layer${i}.tar`);
        const file = await fs.open(tar, 'w');
        for await (const c of await src.openLayerTar(i)) await file.write(c as Buffer);
        await file.close();
        const r = await timed('gzip', ['-6', '-c', tar], { stdout: `${tar}.gz` });
        gzRun = { seconds: gzRun.seconds + r.seconds, cpu: gzRun.cpu + r.cpu, rssMB: Math.max(gzRun.rssMB, r.rssMB) };
        gz += await size(`${tar}.gz`);
        await fs.rm(tar);
        await fs.rm(`${tar}.gz`);
      }
    } finally {
      await src.close();
    }
    p.log({ scenario: p.scenario, tool: 'gzip -6 layers (registry)', bytes: gz, build: gzRun, ok: '-' });
  }
  if (TOOLS.has('zstd')) {
    await benchPeer(
      p,
      'zstd -19 --long=31 -T0',
      'zst',
      (f) => ['zstd', ['-q', '-f', '-19', '--long=31', '-T0', p.target, '-o', f]],
      (f, d) => ['zstd', ['-q', '-f', '-d', '--long=31', f, '-o', d]],
    );
  }
  if (TOOLS.has('xz')) {
    await benchPeer(
      p,
      'xz -9 -T0',
      'xz',
      (f) => ['sh', ['-c', 'exec xz -9 -T0 -c "$0" > "$1"', p.target, f]],
      (f, d) => ['sh', ['-c', 'exec xz -d -T0 -c "$0" > "$1"', f, d]],
    );
  }
}

async function benchPair(scenario: string, base: string | undefined, target: string, work: string): Promise<Row[]> {
  const rows: Row[] = [];
  const p: Pair = {
    scenario,
    base,
    target,
    targetSha: await fileSha(target),
    applies: [],
    out: (name) => join(work, `${scenario}.${name}`),
    log: (r) => {
      r.at = new Date().toISOString().slice(0, 16);
      r.load = Number(loadavg()[0]!.toFixed(1));
      r.commit = COMMIT;
      rows.push(r);
      if (process.env.BENCH_ROWS) appendFileSync(process.env.BENCH_ROWS, `${JSON.stringify(r)}\n`);
      process.stderr.write(`${scenario} ${r.tool}: ${r.bytes} bytes, build ${r.build?.seconds ?? '-'} s / ${r.build?.rssMB.toFixed(0) ?? '-'} MB, apply ${r.apply?.seconds ?? '-'} s / ${r.apply?.rssMB.toFixed(0) ?? '-'} MB, ${r.ok}\n`);
    },
  };
  if (TOOLS.has('lighter')) p.applies.push(await benchLighter(p));
  if (base) await benchDeltaPeers(p, base);
  else await benchFirstImagePeers(p);
  await timeApplies(p.applies, p.log);
  return rows;
}

/** A row as BENCH_ROWS keeps it: JSON has no NaN, so a tool that was not run ("bytes": NaN) comes back as null. */
const readRow = (line: string) => JSON.parse(line, (k, v: unknown) => (k === 'bytes' && v === null ? NaN : v)) as Row;
const fmtBytes = (n: number) => (Number.isNaN(n) ? '-' : n.toLocaleString('en-US'));
const fmtRun = (r?: Run) => (r ? `${r.seconds.toFixed(1)} s (cpu ${r.cpu.toFixed(1)}) / ${r.rssMB.toFixed(0)} MB` : '-');
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !(b > 0) || Number.isNaN(a) ? '-' : (a / b).toFixed(2));
const isFloor = (r: Row) => r.tool.startsWith('floor');
/** large-file's new random bytes as the corpus script makes them (BIG_MB=1024): a 16 MiB insert and 103 rewrites of 100 KiB. */
const LARGE_FILE_RANDOM = 16 * 2 ** 20 + 103 * 100 * 1024;

/** The acceptance targets of issue 15, checked against this run's rows. */
function targets(rows: Row[], scenario: string, first: boolean): string | undefined {
  const mine = rows.find((x) => x.scenario === scenario && x.tool === 'lighter');
  const ran = rows.filter((x) => x.scenario === scenario && x.tool !== 'lighter' && !Number.isNaN(x.bytes));
  const peers = ran.filter((x) => !isFloor(x) && !x.tool.startsWith('gzip'));
  if (!mine || peers.length === 0) return undefined;
  const best = peers.reduce((a, b) => (b.bytes < a.bytes ? b : a));
  const get = (prefix: string) => ran.find((x) => x.tool.startsWith(prefix));
  const xd = get('xdelta3');
  const hd = get('hdiffpatch');
  const zpaq = rows.find((x) => x.scenario === scenario && x.tool === FLOOR_TOOLS[0]);
  let sizeTarget: string;
  let met: boolean;
  if (first) {
    const zs = get('zstd');
    const gate = [get('xz'), zs].filter((x): x is Row => !!x).reduce((a, b) => (b.bytes < a.bytes ? b : a), best);
    sizeTarget = `≤ 0.95 × ${gate.tool} (${ratio(mine.bytes, gate.bytes)}); build ≤ zstd -T0's (${ratio(mine.build?.seconds, zs?.build?.seconds)}, cpu ${ratio(mine.build?.cpu, zs?.build?.cpu)})`;
    met = mine.bytes <= 0.95 * gate.bytes && !!zs?.build && mine.build!.seconds <= zs.build.seconds;
  } else if (scenario === 'large-file') {
    sizeTarget = `≤ 1.05 × its random-bytes floor (${ratio(mine.bytes, LARGE_FILE_RANDOM)})`;
    met = mine.bytes <= 1.05 * LARGE_FILE_RANDOM;
  } else {
    const floorBytes = zpaq && !Number.isNaN(zpaq.bytes) && zpaq.bytes > 0 ? zpaq.bytes : undefined;
    const floorRules = floorBytes !== undefined && floorBytes > 0.7 * best.bytes;
    sizeTarget = floorRules ? `≤ 1.0 × floor (${ratio(mine.bytes, floorBytes)})` : `≤ 0.7 × best peer`;
    met = floorRules ? mine.bytes <= floorBytes! : mine.bytes <= 0.7 * best.bytes;
  }
  const timesMet = first || ((!xd?.build || mine.build!.seconds <= 1.5 * xd.build.seconds) && (!hd?.apply || mine.apply!.seconds <= 4 * hd.apply.seconds) && mine.apply!.rssMB <= 100);
  // wall-time ratio (the target) and, in brackets, the CPU-time ratio, which load distorts less
  const times = (a?: Run, b?: Run) => `${ratio(a?.seconds, b?.seconds)} (cpu ${ratio(a?.cpu, b?.cpu)})`;
  const estimate = mine.estimate !== undefined && mine.bundle ? `${ratio(mine.estimate, mine.bundle)} (${fmtBytes(mine.estimate)} for ${fmtBytes(mine.bundle)} B)${Math.abs(mine.estimate / mine.bundle - 1) <= 0.3 ? '' : ', missed'}` : '-';
  return `| ${scenario} | ${ratio(mine.bytes, best.bytes)} (${best.tool}) | ${ratio(mine.bytes, zpaq?.bytes)} | ${sizeTarget} | ${first ? '-' : times(mine.build, xd?.build)} | ${first ? '-' : times(mine.apply, hd?.apply)} | ${mine.apply?.rssMB.toFixed(0) ?? '-'} MB | ${estimate} | ${met && timesMet ? 'met' : 'missed'} |`;
}

function report(rows: Row[], command: string, firstImages: Set<string>): string {
  const lines = [
    '# Delta engine benchmark',
    '',
    `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)} (${process.platform}, Node ${process.version}).`,
    'Every tool works on the same input: the docker-save archives of pairs.tsv. Times are wall-clock and',
    'user + system CPU seconds (`/usr/bin/time`) on a shared 2-core machine: wall time is noise under load,',
    `CPU time less so; a pair's applies are timed together in ${APPLY_RUNS} rounds, each tool once a round with sync between, and each tool's run of median wall time kept (one build each). The last column says when each row was measured, at what 1-minute load average,`,
    "and for Lighter's rows at which commit. Floor rows compress the new content (see \"The floor\") and have no apply side.",
    "Tools run with this machine's environment less NODE_EXTRA_CA_CERTS (the system CA bundle, which Node parses at every start).",
    '',
    '| scenario | tool | bytes | build (wall, cpu / peak RSS) | apply (wall, cpu / peak RSS) | rebuilt | Lighter ÷ this | measured (UTC, load, commit) |',
    '|---|---|---:|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const lighter = rows.find((x) => x.scenario === r.scenario && x.tool === 'lighter');
    const tool = r.input !== undefined ? `${r.tool} (of ${fmtBytes(r.input)} B new)` : r.tool;
    const measured = r.at ? `${r.at.replace('T', ' ')}, ${r.load}${r.tool === 'lighter' ? `, ${r.commit}` : ''}` : '-';
    lines.push(`| ${r.scenario} | ${tool} | ${fmtBytes(r.bytes)} | ${fmtRun(r.build)} | ${fmtRun(r.apply)} | ${r.ok} | ${r.tool === 'lighter' ? '' : ratio(lighter?.bytes, r.bytes)} | ${measured} |`);
  }
  lines.push(
    '',
    '## Against the targets (issue 15)',
    '',
    '| scenario | Lighter ÷ best peer | Lighter ÷ floor (zpaq -m5) | size target | build ÷ xdelta3 (≤ 1.5) | apply ÷ HDiffPatch (≤ 4) | apply peak RSS (≤ 100 MB) | estimate ÷ signed bundle (±30%) | |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
    const line = targets(rows, scenario, firstImages.has(scenario));
    if (line) lines.push(line);
  }
  lines.push(
    '',
    "The estimate column: what the planner shows before any bundle exists (`estimatePatchBytes` on the two images' signatures,",
    "core/signature/estimate.ts) against the signed bundle `lighter bundle build --patch` sealed around the row's patch.",
    '',
    '## The floor',
    '',
    'The floor rows compress the content of the target that the base lacks: the concatenated contents (no',
    'names, no tar headers) of every regular file with content that sits in a target layer whose diffID the',
    'base does not have, at a path no base layer has, and is byte-identical to no base file (nor to a file',
    'already counted), in layer and archive order. A file changed at a path the base has is not counted,',
    'since a delta can reuse its old version; so no tool, Lighter included, should get below the floor by',
    `more than what the base's other files can predict. Coded with \`zpaq -m5\` (context mixing; the archive's`,
    `own few dozen bytes of framing included) and \`xz -9e -T1\`; skipped over ${FLOOR_MAX_BYTES >> 20} MiB (zpaq -m5 runs at ~0.1 MB/s here).`,
    'large-file\'s target is its random-bytes floor instead: the corpus script writes a 16 MiB insert and 103',
    'rewrites of 100 KiB of fresh random bytes into the 1 GiB file (27,324,416 B).',
  );
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: npm run bench -- CORPUS_DIR   (a directory with pairs.tsv)');
  const listed = (await fs.readFile(join(dir, 'pairs.tsv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));
  const pairs = listed.filter((cols) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(cols[0]!));
  const work = await fs.mkdtemp(join(process.env.BENCH_TMP ?? tmpdir(), 'lighter-bench-'));
  const rowsFile = process.env.BENCH_ROWS;
  const kept: Row[] = rowsFile && existsSync(rowsFile) ? readFileSync(rowsFile, 'utf8').split('\n').filter(Boolean).map(readRow) : [];
  const rows: Row[] = [];
  const firstImages = new Set(listed.filter((cols) => cols[1] === '-').map((cols) => cols[0]!));
  try {
    for (const [scenario, base, target] of pairs) {
      if (!scenario || !base || !target) throw new Error(`${dir}/pairs.tsv: malformed line`);
      rows.push(...(await benchPair(scenario, base === '-' ? undefined : join(dir, base), join(dir, target), work)));
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  const out = process.env.BENCH_OUT ?? join(ROOT, 'docs', 'bench.md');
  // The newest row of each scenario and tool, in pairs.tsv's order, Lighter first.
  const newest = new Map<string, Row>();
  for (const r of [...kept, ...rows]) newest.set(`${r.scenario}\t${r.tool}`, r);
  const order = listed.map((cols) => cols[0]!);
  const all = [...newest.values()].sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario) || Number(b.tool === 'lighter') - Number(a.tool === 'lighter'));
  const command = `npm run bench -- ${dir}${process.env.BENCH_ONLY ? ` (BENCH_ONLY=${process.env.BENCH_ONLY})` : ''}${rowsFile ? ` with BENCH_ROWS (rows of earlier runs kept where not re-measured)` : ''}`;
  await fs.writeFile(out, report(all, command, firstImages));
  process.stderr.write(`wrote ${out} (${basename(dir)})\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
