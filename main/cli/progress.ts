// A progress bar on a TTY, silence otherwise (pipelines get clean logs).
export interface Progress {
  (done: number, total: number): void;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress & { end(): void } {
  const tty = stream.isTTY === true && process.env.CI !== 'true';
  let last = 0;
  const fmt = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);
  const draw = (done: number, total: number) => {
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 30;
    const fill = Math.round(frac * width);
    stream.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(done)}/${fmt(total)}`);
  };
  const fn = ((done: number, total: number) => {
    if (!tty) return;
    const now = Date.now();
    if (now - last < 100 && done < total) return;
    last = now;
    draw(done, total);
  }) as Progress & { end(): void };
  fn.end = () => {
    if (tty) stream.write('\n');
  };
  return fn;
}
