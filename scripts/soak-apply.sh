#!/usr/bin/env bash
# A longer kill -9 soak of `lighter bundle apply` than the suite runs: the same test
# (test/bundle-kill.test.ts) with more cycles. Usage: scripts/soak-apply.sh [CYCLES] (default 500).
# Needs dockerd (scripts/dockerd.sh start) and skopeo, like the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run -s build
LIGHTER_SKIP_BUILD=1 LIGHTER_SOAK_CYCLES="${1:-500}" npx vitest run test/bundle-kill.test.ts
