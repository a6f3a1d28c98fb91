// Runs once before the suite: tests that spawn the CLI or engine workers use the compiled dist/,
// so make sure it is current. Services (dockerd) are started by scripts/test.sh; the registry is
// started per test file by test/support/registry.ts.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.LIGHTER_SKIP_BUILD !== '1') execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
}
