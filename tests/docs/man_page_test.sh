#!/usr/bin/env bash
# The manual page: made from docs/cli.md, it renders without a groff warning and describes
# every option that each command's --help lists.
#   man_page_test.sh PATH_TO_TENDRIL PATH_TO_TENDRIL.1
set -uo pipefail
tendril=$1
page=$2
failures=0
if [ ! -s "$page" ]; then
  echo "FAILED: no manual page at $page (is go-md2man installed? scripts/setup.sh installs it)"
  exit 1
fi
warnings=$(groff -k -t -man -Tutf8 -ww -z "$page" 2>&1)
if [ -n "$warnings" ]; then
  echo "FAILED: groff warns about the page:"; echo "$warnings"; failures=$((failures + 1))
else
  echo "ok: the page renders without warnings"
fi
# Wide lines and no hyphenation, so that no option is split across lines.
text=$(groff -k -t -man -Tutf8 -rLL=300n -rHY=0 -P-cbou "$page" 2>/dev/null)
grep -q '^TENDRIL(1)' <<< "$text" && echo "ok: titled TENDRIL(1)" || {
  echo "FAILED: the page is not titled TENDRIL(1)"; failures=$((failures + 1)); }
for command in "" scan worker watch flow "flow validate" "flow graph" "flow run" "flow send"; do
  # shellcheck disable=SC2086 # the command's words are separate arguments
  options=$("$tendril" $command --help | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' ,' | sort -u)
  for option in $options; do
    [ "$option" = --help ] || [ "$option" = -h ] && continue
    if grep -qE -- "(^|[^a-zA-Z-])$option([^a-zA-Z-]|$)" <<< "$text"; then
      echo "ok: tendril $command $option is described"
    else
      echo "FAILED: tendril $command $option is in --help but not in docs/cli.md"
      failures=$((failures + 1))
    fi
  done
done
echo "man page: $failures failed"
test $failures -eq 0
