#!/usr/bin/env bash
# herald's test command (README and .ci/run): lint, format check, type-checked build, then every
# test file. Lab end-to-end tests need root and the Debian packages that .ci/run installs; set
# HERALD_REQUIRE_LAB=1 to make their absence a failure instead of a skip.
#
# Two streams run side by side, each one file at a time: the end-to-end files (test/e2e: labs,
# Ansible, Chromium) and everything else (unit, hardening, integration). Every file already picks
# free ports and unique namespace names, so the two never collide; two streams keep the whole run
# under half an hour on a 2-core machine, where one file at a time took about 30 minutes. The
# e2e stream prints as it goes; the other stream's output follows when both are done.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent lint
npm run --silent build
npm run --silent typecheck
mapfile -t e2e < <(find test/e2e -name '*.test.ts' | sort)
mapfile -t others < <(find test -name '*.test.ts' -not -path 'test/e2e/*' | sort)
run() { node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"; }

others_log=$(mktemp)
trap 'rm -f "$others_log"' EXIT
run "${others[@]}" >"$others_log" 2>&1 &
others_pid=$!
e2e_status=0
run "${e2e[@]}" || e2e_status=$?
others_status=0
wait "$others_pid" || others_status=$?

echo
echo "=== unit, hardening and integration tests (${#others[@]} files, run beside the e2e files) ==="
cat "$others_log"
echo
echo "e2e files: exit ${e2e_status}; unit, hardening and integration files: exit ${others_status}"
[ "$e2e_status" -eq 0 ] && [ "$others_status" -eq 0 ]
