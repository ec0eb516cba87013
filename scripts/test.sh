#!/usr/bin/env bash
# herald's test command (README and .ci/run): lint, format check, type-checked build, then every
# test in one node:test run. Lab end-to-end tests need root and the Debian packages that .ci/run
# installs; set HERALD_REQUIRE_LAB=1 to make their absence a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent lint
npm run --silent build
npm run --silent typecheck
mapfile -t files < <(find test -name '*.test.ts' | sort)
# One file at a time: lab tests build network namespaces and run daemons on a 2-core machine.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
