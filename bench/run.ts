// `npm run bench -- DIR`: for each pair in DIR/pairs.tsv (scenario, base archive or "-", target
// archive), in one run, Lighter's patch against the peers DESIGN.md names, all on the same input
// (the docker-save archives): bytes, build seconds and peak RSS, apply seconds and peak RSS, and
// whether the rebuilt image is exactly the target. Writes docs/bench.md.
// Every tool runs as a child under /usr/bin/time -f so peak RSS is measured the same way for all.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSource } from '../io/image/transport.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIGHTER = join(ROOT, 'bin', 'lighter.js');
/** bsdiff needs ~17× the base in memory; bases it could not sort in 60% of this machine's memory are left out. */
const BSDIFF_MAX_BASE = process.env.BENCH_BSDIFF_MAX_MB ? Number(process.env.BENCH_BSDIFF_MAX_MB) * 2 ** 20 : (totalmem() * 0.6) / 17;

interface Run {
  seconds: number;
  rssMB: number;
}

function timed(cmd: string, args: string[], opts: { stdout?: string } = {}): Promise<Run> {
  const fmt = '%e %M';
  const shell = opts.stdout ? ['sh', '-c', `exec "$0" "$@" > '${opts.stdout.replace(/'/g, "'\\''")}'`, cmd, ...args] : [cmd, ...args];
  return new Promise((res, rej) => {
    execFile('/usr/bin/time', ['-f', fmt, ...shell], { maxBuffer: 64 << 20 }, (err, _out, stderr) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      const m = /^(\d+(?:\.\d+)?) (\d+)$/.exec(last);
      if (err || !m) return rej(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim().slice(-500)}`));
      res({ seconds: Number(m[1]), rssMB: Number(m[2]) / 1024 });
    });
  });
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
const TOOLS = new Set((process.env.BENCH_TOOLS ?? 'lighter,xdelta3,zstd,bsdiff,gzip').split(','));

interface Pair {
  scenario: string;
  base: string | undefined;
  target: string;
  targetSha: string;
  out(name: string): string;
  log(r: Row): void;
}

async function benchLighter({ scenario, base, target, out, log }: Pair): Promise<void> {
  const patch = out('lighter');
  const build = await timed(LIGHTER, ['diff', ...(base ? ['--from', `docker-archive:${base}`] : []), '--to', `docker-archive:${target}`, '-o', patch]);
  const rebuilt = out('rebuilt.tar');
  await fs.rm(rebuilt, { force: true });
  const apply = await timed(LIGHTER, ['patch', ...(base ? ['--from', `docker-archive:${base}`] : []), patch, '--to', `docker-archive:${rebuilt}:bench/rebuilt:latest`]);
  log({ scenario, tool: 'lighter', bytes: await size(patch), build, apply, ok: (await sameImage(`docker-archive:${rebuilt}`, `docker-archive:${target}`)) ? 'image identical' : 'MISMATCH' });
  await fs.rm(rebuilt, { force: true });
}

/** A peer that encodes `target` (against `base` when given) into `file` and decodes it back to `decoded`. */
async function benchPeer(p: Pair, tool: string, name: string, encode: (file: string) => [string, string[]], decode: (file: string, decoded: string) => [string, string[]]): Promise<void> {
  const file = p.out(name);
  const decoded = p.out(`${name}.out`);
  const build = await timed(...encode(file));
  const apply = await timed(...decode(file, decoded));
  p.log({ scenario: p.scenario, tool, bytes: await size(file), build, apply, ok: (await fileSha(decoded)) === p.targetSha ? 'bytes identical' : 'MISMATCH' });
  await fs.rm(decoded, { force: true });
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
}

/** A first image: what a registry would send (each layer tar gzip -6), and zstd -19 --long=31 of the archive. */
async function benchFirstImagePeers(p: Pair): Promise<void> {
  if (TOOLS.has('gzip')) {
    const src = await openSource(`docker-archive:${p.target}`);
    let gz = 0;
    let gzRun: Run = { seconds: 0, rssMB: 0 };
    try {
      const info = await src.info();
      for (let i = 0; i < info.layers.length; i++) {
        const tar = p.out(`layer${i}.tar`);
        const file = await fs.open(tar, 'w');
        for await (const c of await src.openLayerTar(i)) await file.write(c as Buffer);
        await file.close();
        const r = await timed('gzip', ['-6', '-c', tar], { stdout: `${tar}.gz` });
        gzRun = { seconds: gzRun.seconds + r.seconds, rssMB: Math.max(gzRun.rssMB, r.rssMB) };
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
      'zstd -19 --long=31',
      'zst',
      (f) => ['zstd', ['-q', '-f', '-19', '--long=31', p.target, '-o', f]],
      (f, d) => ['zstd', ['-q', '-f', '-d', '--long=31', f, '-o', d]],
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
    out: (name) => join(work, `${scenario}.${name}`),
    log: (r) => {
      rows.push(r);
      process.stderr.write(`${scenario} ${r.tool}: ${r.bytes} bytes, build ${r.build?.seconds ?? '-'} s / ${r.build?.rssMB.toFixed(0) ?? '-'} MB, apply ${r.apply?.seconds ?? '-'} s / ${r.apply?.rssMB.toFixed(0) ?? '-'} MB, ${r.ok}\n`);
    },
  };
  if (TOOLS.has('lighter')) await benchLighter(p);
  if (base) await benchDeltaPeers(p, base);
  else await benchFirstImagePeers(p);
  return rows;
}

const fmtBytes = (n: number) => (Number.isNaN(n) ? '-' : n >= 1 << 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
const fmtRun = (r?: Run) => (r ? `${r.seconds.toFixed(1)} s / ${r.rssMB.toFixed(0)} MB` : '-');

function report(rows: Row[], command: string): string {
  const lines = [
    '# Delta engine benchmark',
    '',
    `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)} (${process.platform}, Node ${process.version}).`,
    'Every tool works on the same input: the docker-save archives of pairs.tsv. Times are wall-clock on a',
    'shared 2-core machine (noise); the ratios between tools in the same run are what count.',
    '',
    '| scenario | tool | bytes | build (time / peak RSS) | apply (time / peak RSS) | rebuilt | Lighter ÷ this |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const lighter = rows.find((x) => x.scenario === r.scenario && x.tool === 'lighter');
    const ratio = !lighter || r.tool === 'lighter' || Number.isNaN(r.bytes) ? '' : (lighter.bytes / r.bytes).toFixed(3);
    lines.push(`| ${r.scenario} | ${r.tool} | ${fmtBytes(r.bytes)} | ${fmtRun(r.build)} | ${fmtRun(r.apply)} | ${r.ok} | ${ratio} |`);
  }
  lines.push('', '## Against the targets (DESIGN.md, "Performance")', '', '| scenario | Lighter ÷ best peer | target | build time ÷ xdelta3 | apply peak RSS |', '|---|---|---|---|---|');
  for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
    const mine = rows.find((x) => x.scenario === scenario && x.tool === 'lighter');
    const peers = rows.filter((x) => x.scenario === scenario && x.tool !== 'lighter' && !Number.isNaN(x.bytes));
    if (!mine || peers.length === 0) continue;
    const first = peers.some((p) => p.tool.startsWith('gzip'));
    const best = (first && peers.find((p) => p.tool.startsWith('gzip'))) || peers.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    const xd = peers.find((p) => p.tool.startsWith('xdelta3'));
    const target = first ? '≤ 0.7 × gzip layers' : scenario === 'large-file' ? '≤ 1.05' : '≤ 0.5';
    lines.push(
      `| ${scenario} | ${(mine.bytes / best.bytes).toFixed(3)} (${best.tool}) | ${target} | ${xd?.build ? (mine.build!.seconds / xd.build.seconds).toFixed(2) : '-'} | ${mine.apply!.rssMB.toFixed(0)} MB |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: npm run bench -- CORPUS_DIR   (a directory with pairs.tsv)');
  const pairs = (await fs.readFile(join(dir, 'pairs.tsv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((cols) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(cols[0]!));
  const work = await fs.mkdtemp(join(process.env.BENCH_TMP ?? tmpdir(), 'lighter-bench-'));
  const rows: Row[] = [];
  try {
    for (const [scenario, base, target] of pairs) {
      if (!scenario || !base || !target) throw new Error(`${dir}/pairs.tsv: malformed line`);
      rows.push(...(await benchPair(scenario, base === '-' ? undefined : join(dir, base), join(dir, target), work)));
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  const out = process.env.BENCH_OUT ?? join(ROOT, 'docs', 'bench.md');
  await fs.writeFile(out, report(rows, `npm run bench -- ${dir}${process.env.BENCH_ONLY ? ` (BENCH_ONLY=${process.env.BENCH_ONLY})` : ''}`));
  process.stderr.write(`wrote ${out} (${basename(dir)})\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
