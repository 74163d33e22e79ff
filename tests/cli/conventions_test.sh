#!/usr/bin/env bash
# The CLI's conventions: a mistyped command or option is named with a suggestion (exit 2), -V
# gives the build's version, `tendril help COMMAND`, and --help lists exit codes and variables.
#   conventions_test.sh PATH_TO_TENDRIL VERSION
set -uo pipefail
tendril=$1 version=$2
failures=0
check() {  # check "description" command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}

err=$("$tendril" sacn 2>&1); status=$?
check "an unknown command is exit 2 (got $status)" test $status -eq 2
check "named, with the closest command" grep -q "tendril: unknown command 'sacn'; did you mean 'scan'?" <<<"$err"
err=$("$tendril" flow vaildate x.json 2>&1); status=$?
check "an unknown flow command too (exit $status)" test $status -eq 2
check "with its suggestion" grep -q "tendril flow: unknown command 'vaildate'; did you mean 'validate'?" <<<"$err"
err=$("$tendril" frobnicate 2>&1)
check "no suggestion when nothing is close, but the list of commands" \
  bash -c "! grep -q 'did you mean' <<<\"\$1\" && grep -q 'commands: help, scan, worker, watch, flow' <<<\"\$1\"" _ "$err"
err=$("$tendril" scan --no-progres /tmp 2>&1); status=$?
check "a mistyped option is exit 2 (got $status)" test $status -eq 2
check "named, with the closest option" bash -c "grep -q 'not expected: --no-progres' <<<\"\$1\" && grep -q \"did you mean '--no-progress'?\" <<<\"\$1\"" _ "$err"

check "-V prints the version CMake was given" test "$("$tendril" -V)" = "tendril $version"
check "--version too" test "$("$tendril" --version)" = "tendril $version"
out=$("$tendril" help flow run); status=$?
check "tendril help flow run (exit $status)" test $status -eq 0
check "shows run's options" grep -q -- '--timeout' <<<"$out"
"$tendril" help nosuch > /dev/null 2>&1
check "help for no such command is exit 2" test $? -eq 2
out=$("$tendril" --help)
check "--help lists the exit codes" grep -q '124 flow run: --timeout' <<<"$out"
check "and the environment variables" grep -q 'PREFECT_REDIS_MESSAGING_URL' <<<"$out"

echo "$failures failed"
[ "$failures" -eq 0 ]
