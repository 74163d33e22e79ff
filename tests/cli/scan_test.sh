#!/usr/bin/env bash
# `tendril scan` against sha256sum on a tree built here, with entries that cannot be hashed.
#   scan_test.sh PATH_TO_TENDRIL
set -uo pipefail
tendril=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {  # check "description" command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}

tree=$work/tree
mkdir -p "$tree/a/b/c" "$tree/empty dir" "$tree/other"
: > "$tree/empty"
printf x > "$tree/one byte"
head -c 3000000 /dev/urandom > "$tree/a/big.bin"
for i in $(seq 1 200); do echo "file $i" > "$tree/a/b/c/f$i.txt"; done
printf 'slash' > "$tree/back\\slash"
printf 'newline' > "$tree/new
line"
echo target > "$tree/other/target"
ln -s other/target "$tree/link-to-file"   # hashed through the link
ln -s other "$tree/link-to-dir"           # not followed: no double counting
ln -s nowhere "$tree/dangling"            # cannot be hashed
ln -s loop-b "$tree/loop-a"; ln -s loop-a "$tree/loop-b"   # cannot be hashed (x2)
mkfifo "$tree/fifo"                       # cannot be hashed, and must not hang the scan

"$tendril" scan --workers 3 --no-progress "$tree" > "$work/sums" 2> "$work/err"
status=$?
check "exit status 1 when some entries cannot be hashed (got $status)" test $status -eq 1
check "sha256sum -c accepts every line" sha256sum -c --quiet "$work/sums"
expected=$(( $(find "$tree" -type f -printf x | wc -c) + 1 ))   # regular files + the link to a file
got=$(grep -c '^\\\?[0-9a-f]\{64\}  ' "$work/sums")
check "one line per regular file and file link ($got of $expected)" test "$got" -eq "$expected"
check "the name with a newline is escaped as sha256sum does" grep -q '^\\[0-9a-f]\{64\}  .*new\\nline$' "$work/sums"
check "the dangling link is reported" grep -q 'dangling: No such file or directory' "$work/err"
check "the FIFO is reported" grep -q 'fifo: cannot hash a FIFO' "$work/err"
check "both loop links are reported" test "$(grep -c 'loop-[ab]: Too many levels of symbolic links' "$work/err")" -eq 2
check "the summary counts 4 errors" grep -Eq '\| errors +\| +4 \|' "$work/err"
check "the summary counts the files" grep -Eq "\| files hashed +\| +$expected \|" "$work/err"
check "the file behind the directory link is hashed once" test "$(grep -c 'other/target$' "$work/sums")" -eq 1
check "the directory link is not followed" test "$(grep -c 'link-to-dir' "$work/sums")" -eq 0

clean=$work/clean
mkdir -p "$clean/x" && echo a > "$clean/x/a" && echo b > "$clean/b"
"$tendril" scan --workers 1 "$clean" > "$work/clean-sums" 2>/dev/null
check "exit status 0 on a clean tree" test $? -eq 0
check "the same sums as sha256sum" diff <(sort -k2 "$work/clean-sums") <(find "$clean" -type f -print0 | xargs -0 sha256sum | sort -k2)

"$tendril" scan /definitely/not/here > /dev/null 2> "$work/bad-dir"
check "a missing directory is a usage error (exit 2)" test $? -eq 2
check "and says so" grep -q 'Directory does not exist' "$work/bad-dir"

# Progress is drawn when stderr is a terminal (script gives the scan a pseudo-terminal).
if command -v script > /dev/null; then
  script -qec "$tendril scan --workers 2 '$tree' > /dev/null" /dev/null > "$work/tty" 2>&1 || true
  check "a progress line on a terminal" grep -q 'scan \[[#.]*\] [0-9]*/[0-9]*+\? files' "$work/tty"
fi

# Ctrl-C: cancels cleanly, still prints the summary, exits 130.
slow=$work/slow
mkdir -p "$slow"
for i in $(seq 1 16); do truncate -s 1G "$slow/z$i"; done   # sparse: 16 GiB to hash, no disk
"$tendril" scan --workers 1 --no-progress "$slow" > "$work/slow-sums" 2> "$work/slow-err" &
pid=$!
sleep 0.3
kill -INT $pid
wait $pid
status=$?
if grep -q '| outcome *| *completed' "$work/slow-err"; then
  echo "note: the scan finished before the interrupt; cannot judge Ctrl-C on this machine"
  failures=$((failures + 1))
else
  check "Ctrl-C exits 130 (got $status)" test $status -eq 130
  check "Ctrl-C still prints the summary" grep -q '| outcome *| *interrupted' "$work/slow-err"
  check "lines printed before Ctrl-C are valid" bash -c "test ! -s '$work/slow-sums' || sha256sum -c --quiet '$work/slow-sums'"
fi

echo "scan: $failures failed"
test $failures -eq 0
