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

# Waits (up to 10 s) until process $1 blocks SIGINT, i.e. its signal watcher is in place:
# a signal sent earlier would be lost, since a script starts background jobs with SIGINT ignored.
wait_for_signal_watcher() {
  for _ in $(seq 1 200); do
    mask=$(awk '/^SigBlk:/ {print $2}' "/proc/$1/status" 2> /dev/null) || return 1
    [ -n "$mask" ] && (( (16#$mask & 2) != 0 )) && return 0
    sleep 0.05
  done
  return 1
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
printf 'cr' > "$tree/carriage$(printf '\r')return"
echo target > "$tree/other/target"
ln -s other/target "$tree/link-to-file"   # hashed through the link
ln -s other "$tree/link-to-dir"           # not followed: no double counting
ln -s nowhere "$tree/dangling"            # cannot be hashed
ln -s loop-b "$tree/loop-a"; ln -s loop-a "$tree/loop-b"   # cannot be hashed (x2)
mkfifo "$tree/fifo"                       # cannot be hashed, and must not hang the scan
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tree/sock"

"$tendril" scan --workers 3 --no-progress "$tree" > "$work/sums" 2> "$work/err"
status=$?
check "exit status 1 when some entries cannot be hashed (got $status)" test $status -eq 1
check "sha256sum -c accepts every line" sha256sum -c --quiet "$work/sums"
expected=$(( $(find "$tree" -type f -printf x | wc -c) + 1 ))   # regular files + the link to a file
got=$(grep -c '^\\\?[0-9a-f]\{64\}  ' "$work/sums")
check "one line per regular file and file link ($got of $expected)" test "$got" -eq "$expected"
check "the name with a newline is escaped as sha256sum does" grep -q '^\\[0-9a-f]\{64\}  .*new\\nline$' "$work/sums"
check "a carriage return too, as coreutils 9.1 does" \
  test "$(grep 'carriage' "$work/sums")" = "$(sha256sum "$tree/carriage$(printf '\r')return")"
check "the dangling link is reported" grep -q 'dangling: No such file or directory' "$work/err"
check "the FIFO is reported" grep -q 'fifo: cannot hash a FIFO' "$work/err"
check "the socket is reported as one" grep -q 'sock: cannot hash a socket' "$work/err"
check "both loop links are reported" test "$(grep -c 'loop-[ab]: Too many levels of symbolic links' "$work/err")" -eq 2
check "the summary counts 5 errors" grep -Eq '\| errors +\| +5 \|' "$work/err"
check "the summary counts the files" grep -Eq "\| files hashed +\| +$expected \|" "$work/err"
check "the file behind the directory link is hashed once" test "$(grep -c 'other/target$' "$work/sums")" -eq 1
check "the directory link is not followed" test "$(grep -c 'link-to-dir' "$work/sums")" -eq 0

# --check verifies a manifest as sha256sum -c does: the same lines, warnings and exit status.
"$tendril" scan --check "$work/sums" > "$work/check-out" 2> "$work/check-err"
check "--check of the scan's own output: exit 0 (got $?)" test $? -eq 0
check "an OK line per digest" test "$(grep -c ': OK$' "$work/check-out")" -eq "$expected"
cp "$work/sums" "$work/broken"
echo "tampered" >> "$tree/a/b/c/f1.txt"
echo "0000000000000000000000000000000000000000000000000000000000000000  $tree/gone" >> "$work/broken"
echo "not a checksum line" >> "$work/broken"
(cd / && sha256sum -c "$work/broken" > "$work/sha-out" 2> "$work/sha-err"); sha_status=$?
"$tendril" scan --check "$work/broken" > "$work/td-out" 2> "$work/td-err"; td_status=$?
check "a tampered file, a missing one, a bad line: exit $td_status as sha256sum's $sha_status" \
  test "$td_status" -eq "$sha_status" -a "$td_status" -eq 1
check "the same lines as sha256sum -c, in the same order" diff "$work/sha-out" "$work/td-out"
check "the same warnings" diff <(grep WARNING "$work/sha-err" | sed 's/^sha256sum: //') \
  <(grep WARNING "$work/td-err" | sed 's/^tendril scan: //')
"$tendril" scan --check "$work/broken" --status > "$work/status-out" 2>&1
check "--status: exit 1, nothing said" test $? -eq 1 -a ! -s "$work/status-out"
echo "file 1" > "$tree/a/b/c/f1.txt"
{ cat "$work/sums"; echo "junk"; } > "$work/loose"
"$tendril" scan --check "$work/loose" --quiet > "$work/quiet-out" 2>&1
check "an improperly formatted line alone does not fail (exit $?)" test $? -eq 0
check "--quiet: no OK lines" bash -c "! grep -q ': OK' '$work/quiet-out'"
"$tendril" scan --check "$work/loose" --strict > /dev/null 2>&1
check "--strict: it does (exit $?)" test $? -eq 1
echo "nothing here" > "$work/empty-manifest"
"$tendril" scan --check "$work/empty-manifest" 2> "$work/empty-err"
check "no checksum line: exit 1 (got $?)" test $? -eq 1
check "and said" grep -q 'no properly formatted checksum lines found' "$work/empty-err"
"$tendril" scan --check "$work/no-such-manifest" 2> /dev/null
check "a manifest that does not exist: exit 1, as sha256sum (got $?)" test $? -eq 1
"$tendril" scan "$tree" --check "$work/sums" 2> /dev/null
check "DIR and --check together: exit 2 (got $?)" test $? -eq 2

clean=$work/clean
mkdir -p "$clean/x" && echo a > "$clean/x/a" && echo b > "$clean/b"
"$tendril" scan --no-progress --state-file "$work/full-states" "$clean" > /dev/full 2> "$work/full-err"
check "digests that cannot be written: exit 1 (got $?)" test $? -eq 1
check "and it says why" grep -q 'cannot write the digests to stdout: No space left on device' "$work/full-err"
"$tendril" scan --no-progress "$clean" >&- 2> "$work/closed-err"
check "a closed stdout: exit 1 (got $?)" test $? -eq 1
check "and it says so" grep -q 'stdout is closed' "$work/closed-err"
"$tendril" scan --workers 1 "$clean" > "$work/clean-sums" 2>/dev/null
check "exit status 0 on a clean tree" test $? -eq 0
check "the same sums as sha256sum" diff <(sort -k2 "$work/clean-sums") <(find "$clean" -type f -print0 | xargs -0 sha256sum | sort -k2)

# Several operands, files among them, as sha256sum takes them; one that does not exist is
# reported as sha256sum does, and the rest are still hashed.
"$tendril" scan --no-state "$clean/x" "$clean/b" /definitely/not/here > "$work/operands" 2> "$work/bad-dir"
check "a missing operand: exit 1, as sha256sum (got $?)" test $? -eq 1
check "and named with the reason" grep -q '^tendril scan: /definitely/not/here: No such file or directory$' "$work/bad-dir"
check "the other operands are hashed, a file operand as given" \
  diff <(sort -k2 "$work/operands") <(sha256sum "$clean/x/a" "$clean/b" | sort -k2)

# --sort: the same manifest on every run, in byte order of the names.
sorted_expected=$(cd "$tree/a" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
first=$(cd "$tree/a" && "$tendril" scan --no-state --sort --workers 3 . 2> /dev/null)
second=$(cd "$tree/a" && "$tendril" scan --no-state --sort --workers 3 . 2> /dev/null)
check "--sort: the lines in byte order of the names (LC_ALL=C sort)" test "$first" = "$sorted_expected"
check "--sort: and the same on a second run" test "$first" = "$second"

# --exclude: a pattern without / matches names (an excluded directory is not entered); one with
# / matches paths.
"$tendril" scan --no-state --exclude 'f1*.txt' --exclude 'b' "$tree/a" > "$work/excl" 2> "$work/excl-err"
check "--exclude of a directory name leaves out all below it" test "$(grep -c '/c/' "$work/excl")" -eq 0
check "and the rest is hashed" grep -q ' .*/a/big.bin$' "$work/excl"
check "the summary counts what was left out (the directory b)" grep -Eq '\| excluded +\| +1 \|' "$work/excl-err"
"$tendril" scan --no-state --exclude "$tree/a/b/c/f1*" "$tree/a" > "$work/excl-path" 2> /dev/null
expected_left=$(find "$tree/a" -type f ! -path "$tree/a/b/c/f1*" | wc -l)
check "--exclude with a / matches the path ($(wc -l < "$work/excl-path") of $expected_left)" \
  test "$(wc -l < "$work/excl-path")" -eq "$expected_left"

# -q: nothing on stderr but errors; --json: the summary as one JSON object.
"$tendril" scan -q --no-state "$clean" > /dev/null 2> "$work/quiet-err"
check "-q: nothing on stderr when all is well" test ! -s "$work/quiet-err"
"$tendril" scan --json --no-state "$clean" "$clean/nothing" > /dev/null 2> "$work/json-err"
check "--json: the last stderr line is the summary, with the counts" python3 -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert s["files_hashed"] == 2 and s["errors"] == 1 and s["outcome"] == "completed with errors", s
assert s["paths"] == [sys.argv[2], sys.argv[2] + "/nothing"] and s["bytes"] == 4, s
' "$work/json-err" "$clean"

# -x, --one-file-system: a file system mounted below is not entered (a private mount
# namespace, so nothing outside this test sees the mount).
mkdir -p "$work/xdev/mnt" && echo top > "$work/xdev/top"
unshare -m sh -c "mount -t tmpfs none '$work/xdev/mnt' && echo below > '$work/xdev/mnt/below' &&
  '$tendril' scan --no-state -x '$work/xdev' > '$work/xdev-x' 2> '$work/xdev-x-err' &&
  '$tendril' scan --no-state '$work/xdev' > '$work/xdev-all' 2> /dev/null"
check "-x: the mounted file system is not entered" bash -c "grep -q '/top\$' '$work/xdev-x' && ! grep -q 'below' '$work/xdev-x'"
check "-x: and the summary says so" grep -Eq '\| other file systems +\| +1 not entered \|' "$work/xdev-x-err"
check "without -x it is" grep -q '/mnt/below$' "$work/xdev-all"

# Progress is drawn when stderr is a terminal (script gives the scan a pseudo-terminal): a
# spinner until the total is counted, then a bar with an ETA, never wider than the terminal.
mkdir -p "$work/progress"
truncate -s 2G "$work/progress/big"  # sparse: a second or so of hashing, no disk
for i in $(seq 1 50); do echo "$i" > "$work/progress/f$i"; done
script -qec "stty cols 60; '$tendril' scan --no-state --workers 1 '$work/progress' > /dev/null" /dev/null \
  > "$work/tty" 2>&1 || true
tr '\r' '\n' < "$work/tty" | sed 's/\x1b\[K//g' | grep -a '^scan ' > "$work/tty-lines"
check "progress lines on a terminal ($(wc -l < "$work/tty-lines"))" test "$(wc -l < "$work/tty-lines")" -ge 2
check "with the total and an ETA once counted" grep -Eq '^scan +[0-9]+%  [0-9,]+/51 files .*ETA [0-9]+:[0-9]{2}' "$work/tty-lines"
check "none wider than 59 columns" test "$(awk '{ if (length($0) > n) n = length($0) } END { print n }' "$work/tty-lines")" -le 59

# Ctrl-C: cancels cleanly, still prints the summary, exits 130.
slow=$work/slow
mkdir -p "$slow"
for i in $(seq 1 16); do truncate -s 1G "$slow/z$i"; done   # sparse: 16 GiB to hash, no disk
"$tendril" scan --workers 1 --no-progress "$slow" > "$work/slow-sums" 2> "$work/slow-err" &
pid=$!
wait_for_signal_watcher $pid
sleep 0.2
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

# Tool states: a state per file and a last COMPLETED one, to the state file with no Redis...
states=$work/states.jsonl
env -u PREFECT_REDIS_MESSAGING_HOST -u PREFECT_REDIS_MESSAGING_URL \
  "$tendril" scan --no-progress --every-state --state-file "$states" "$clean" > /dev/null 2>&1
check "--every-state: a tool state per file and a first and last one" test "$(wc -l < "$states")" -eq 4
check "the last state is COMPLETED with the counts" grep -q '"state":"COMPLETED".*"total_files":2,"processed_files":2' "$states"
# By default only each run's latest state per flush is kept: 200 files, a handful of lines.
mkdir -p "$work/many"; for i in $(seq 1 200); do echo "$i" > "$work/many/f$i"; done
"$tendril" scan --no-progress --state-file "$work/latest.jsonl" "$work/many" > /dev/null 2>&1
lines=$(wc -l < "$work/latest.jsonl")
check "by default far fewer lines than files ($lines for 200)" test "$lines" -lt 20
check "and the last is COMPLETED 200/200" bash -c "tail -n 1 '$work/latest.jsonl' | grep -q '\"state\":\"COMPLETED\".*\"total_files\":200,\"processed_files\":200'"
"$tendril" scan --no-progress --no-state "$clean" > /dev/null 2> "$work/no-state.err"
check "--no-state: exit 0" test $? -eq 0
check "and the summary says states are off" grep -Eq '\| tool states +\| +off \(--no-state\) \|' "$work/no-state.err"
"$tendril" watch --once --state-file "$states" > "$work/watch" 2>&1
check "watch --once shows the run, its state and progress" grep -Eq 'tendril scan +COMPLETED +\[#+\] +2/2' "$work/watch"
"$tendril" watch --state-file "$states" > "$work/watch-live" 2>&1 &
pid=$!
wait_for_signal_watcher $pid
sleep 0.2
kill -INT $pid
wait $pid
check "watch ends cleanly on Ctrl-C (exit 0)" test $? -eq 0
check "and showed the table before" grep -q 'COMPLETED' "$work/watch-live"
{ cat "$states"; echo 'not json'; echo '{"tool_name":"x","total_files":"many"}'; } > "$work/torn.jsonl"
"$tendril" watch --once --state-file "$work/torn.jsonl" > "$work/watch-torn" 2>&1
check "watch skips malformed state lines (exit 0)" test $? -eq 0
check "and still shows the run" grep -Eq 'tendril scan +COMPLETED' "$work/watch-torn"
check "and says how many it skipped" grep -q '(2 malformed entries skipped)' "$work/watch-torn"

# A directory the user may not read is reported and counted, as find says "Permission denied"
# (tests run as root, who may read anything: the scan runs as nobody).
shared=$(mktemp -d /tmp/tendril-scan-XXXXXX)
chmod 755 "$shared"
mkdir -p "$shared/open" "$shared/closed/inner"
echo a > "$shared/open/a"; echo b > "$shared/closed/inner/b"
chmod 000 "$shared/closed"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
  "$tendril" scan --no-progress --no-state "$shared" > "$work/nobody-sums" 2> "$work/nobody-err"
status=$?
check "an unreadable directory: exit 1 as an unprivileged user (got $status)" test "$status" -eq 1
check "it is named with the reason" grep -q "closed: cannot read directory: Permission denied" "$work/nobody-err"
check "and counted as an error" grep -Eq '\| errors +\| +1 \|' "$work/nobody-err"
check "the readable rest is hashed" grep -q ' .*open/a$' "$work/nobody-sums"
chmod 755 "$shared/closed"; rm -rf "$shared"

# ... and to a real Redis with --redis, which watch reads back.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.05; done
"$tendril" scan --no-progress --redis "redis://127.0.0.1:$port" "$clean" > /dev/null 2>&1
check "states reach the Redis stream" test "$(redis-cli -p "$port" xlen progress)" -ge 1
"$tendril" watch --once --redis "redis://127.0.0.1:$port" > "$work/watch-redis" 2>&1
check "watch reads the run back from Redis" grep -Eq 'tendril scan +COMPLETED .* 2/2' "$work/watch-redis"
redis-cli -p "$port" xadd progress '*' data '{"data":"not states"}' > /dev/null
redis-cli -p "$port" xadd progress '*' attributes '{}' > /dev/null
"$tendril" watch --once --redis "redis://127.0.0.1:$port" > "$work/watch-redis-torn" 2>&1
check "watch skips stream entries that are not a publisher's (exit 0)" test $? -eq 0
check "and counts them" grep -q '(2 malformed entries skipped)' "$work/watch-redis-torn"

# watch --once reads the whole history, not just a first page: 2,500 states of one run.
for i in $(seq 1 2500); do
  st=RUNNING; [ "$i" = 2500 ] && st=COMPLETED
  printf "XADD history * data '{\"data\":[{\"tool_name\":\"long\",\"state\":\"%s\",\"processed_files\":%d,\"total_files\":2500,\"tool_run_id\":\"r1\"}]}'\n" "$st" "$i"
done | redis-cli -p "$port" > /dev/null
"$tendril" watch --once --topic history --redis "redis://127.0.0.1:$port" > "$work/watch-history" 2>&1
check "watch --once reads all 2,500 entries (the last is COMPLETED 2500/2500)" \
  grep -Eq '^long +COMPLETED .* 2500/2500' "$work/watch-history"

# Live, watch rides out a Redis restart and shows what came after it.
"$tendril" watch --interval 0.1 --topic live --redis "redis://127.0.0.1:$port" > "$work/watch-restart" 2>&1 &
pid=$!
sleep 0.5
redis-cli -p "$port" shutdown nosave > /dev/null 2>&1
sleep 0.5
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$port" xadd live '*' data '{"data":[{"tool_name":"after","state":"RUNNING","tool_run_id":"r2"}]}' > /dev/null
for _ in $(seq 1 100); do grep -q '^after ' "$work/watch-restart" && break; sleep 0.05; done
kill -INT $pid; wait $pid
check "watch ends 0 after a Redis restart" test $? -eq 0
check "and said it was retrying while Redis was away" grep -q 'retrying)' "$work/watch-restart"
check "and showed the run published after the restart" grep -q '^after ' "$work/watch-restart"
"$tendril" scan --no-progress --redis "redis://127.0.0.1:notaport" "$clean" > /dev/null 2> "$work/bad-redis"
check "a bad --redis URL is a usage error naming the port" grep -q "port 'notaport'" "$work/bad-redis"
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s%N)
"$tendril" scan --no-progress --redis "redis://127.0.0.1:$dead_port" "$clean" > "$work/dead-out" 2> "$work/dead-redis"
status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "an explicit --redis nobody answers fails fast: exit 2 (got $status) in ${elapsed_ms} ms" \
  test "$status" -eq 2 -a "$elapsed_ms" -lt 3000
check "saying so once, before hashing anything" \
  test "$(grep -c "connecting to redis://default@127.0.0.1:$dead_port/0 failed" "$work/dead-redis")" -eq 1 -a ! -s "$work/dead-out"
redis-cli -p "$port" config set requirepass sekrit-pass > /dev/null
"$tendril" scan --no-progress --redis "redis://default:wrong-pass@127.0.0.1:$port" "$clean" > /dev/null 2> "$work/wrong-pass"
check "a wrong password fails fast too (exit $?)" test $? -eq 2
check "naming the login, not the password" bash -c "grep -q 'logging in to' '$work/wrong-pass' && ! grep -q 'wrong-pass' '$work/wrong-pass'"
redis-cli -p "$port" -a sekrit-pass --no-auth-warning config set requirepass '' > /dev/null
kill "$(cat "$work/redis.pid")"

# The default state file never follows a link planted in a shared temporary directory, and a
# FIFO as the state file is refused at once instead of hanging the scan.
mkdir -p "$work/shared-tmp" "$work/small"
echo data >"$work/small/a"
ln -s "$work/victim" "$work/shared-tmp/tendril-$(id -u)"
env -u HOME -u XDG_STATE_HOME TMPDIR="$work/shared-tmp" timeout 20 "$tendril" scan "$work/small" \
  >/dev/null 2>"$work/planted.err"
status=$?
check "a planted link for the default state directory is refused (exit 2)" test $status -eq 2
check "the refusal says why" grep -q "is not a private directory of this user's" "$work/planted.err"
check "nothing was made through the link" test ! -e "$work/victim"
mkdir -p "$work/private-tmp"
env -u HOME -u XDG_STATE_HOME TMPDIR="$work/private-tmp" timeout 20 "$tendril" scan "$work/small" \
  >/dev/null 2>&1
mode=$(stat -c %a "$work/private-tmp/tendril-$(id -u)" 2>/dev/null)
check "without HOME the default state directory is private (0700), got '$mode'" test "$mode" = 700
env -u HOME -u XDG_STATE_HOME TMPDIR="$work/nonexistent" timeout 20 "$tendril" scan "$work/small" \
  >/dev/null 2>"$work/notmp.err"
status=$?
check "a TMPDIR that does not exist is an error, not an abort (exit $status)" test $status -eq 2
mkfifo "$work/states.fifo"
timeout 20 "$tendril" scan --state-file "$work/states.fifo" "$work/small" >/dev/null \
  2>"$work/fifo.err"
status=$?
check "a FIFO state file does not hang the scan, and the lost states make exit 3 (got $status)" \
  test $status -eq 3
check "the summary says the states were lost" grep -q "tool states were lost" "$work/fifo.err"
check "a FIFO state file is refused, saying so" grep -q "is a FIFO with no reader; refused" "$work/fifo.err"

# A file name that is not UTF-8 still makes valid JSON in the state file: the bad byte is U+FFFD.
mkdir -p "$work/latin1"
echo x >"$work/latin1/bad"$'\xff'".txt"
"$tendril" scan --state-file "$work/latin1.jsonl" "$work/latin1" >/dev/null 2>&1
check "the state file holds no invalid UTF-8 byte" test "$(grep -c $'\xff' "$work/latin1.jsonl")" -eq 0
check "the bad byte became U+FFFD" grep -q $'bad\xef\xbf\xbd.txt' "$work/latin1.jsonl"

echo "scan: $failures failed"
test $failures -eq 0
