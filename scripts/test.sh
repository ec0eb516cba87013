#!/usr/bin/env bash
# herald's test command (README and .ci/run): lint, format check, type-checked build, then every
# test file. Lab end-to-end tests need root and the Debian packages that .ci/run installs; set
# HERALD_REQUIRE_LAB=1 to make their absence a failure instead of a skip.
#
# Two streams run side by side, each one file at a time: the files that bring up a lab or
# converge Ansible on this machine, and everything else (unit, hardening, integration, the other
# end-to-end files: Chromium, the CLI, routers, units). Every file already picks free ports and
# unique namespace names, so the two never collide; two streams keep the whole run near 20
# minutes on a 2-core machine, where one file at a time took about 30. The lab stream prints as
# it goes; the other stream's output follows when both are done.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent lint
npm run --silent build
npm run --silent typecheck
# The lab stream: files that bring up a lab or converge Ansible on this machine (the long ones).
lab_files='^test/e2e/(lab-|agent-lab|ansible-converge|ansible-rollout-lab|dashboard-lab)'
mapfile -t e2e < <(find test/e2e -name '*.test.ts' | grep -E "$lab_files" | sort)
mapfile -t others < <(find test -name '*.test.ts' | grep -vE "$lab_files" | sort)
run() { node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"; }

others_log=$(mktemp)
lab_log=$(mktemp)
trap 'rm -f "$others_log" "$lab_log"' EXIT
run "${others[@]}" >"$others_log" 2>&1 &
others_pid=$!
e2e_status=0
run "${e2e[@]}" 2>&1 | tee "$lab_log" || e2e_status=$?
others_status=0
wait "$others_pid" || others_status=$?

echo
echo "=== the other test files (${#others[@]}, run beside the ${#e2e[@]} lab files) ==="
cat "$others_log"
# Whoever reads only the end of the output (a CI excerpt) should still see why a lab file failed:
# its failures, with their messages, were printed far above the other stream's output.
if [ "$e2e_status" -ne 0 ]; then
  echo
  echo "=== the lab files' failures again (their whole output is above) ==="
  sed -n '/^✖ failing tests:/,$p' "$lab_log" | grep -vE '^ +at ' | head -n 150
fi
echo
echo "lab files: exit ${e2e_status}; the other files: exit ${others_status}"
[ "$e2e_status" -eq 0 ] && [ "$others_status" -eq 0 ]
