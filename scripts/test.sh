#!/usr/bin/env bash
# The whole test suite, as README tells a newcomer and as .ci/run calls it. Installs and starts what
# the tests need, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run -s build
npx eslint .
npx tsc -p tsconfig.json --noEmit
# core/ on its own, with no Node types: Buffer and process must not creep in
npx tsc -p core/tsconfig.json
started=$(bash scripts/dockerd.sh start)
trap '[ "$started" = started ] && bash scripts/dockerd.sh stop' EXIT
npx vitest run "$@"
