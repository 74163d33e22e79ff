#!/usr/bin/env bash
# `tendril scan --distributed` with `tendril worker`s on a real redis-server: three workers,
# thousands of files, one worker SIGKILLed while it holds files. The output is complete and
# passes sha256sum -c, duplicates are counted, and nothing stays pending.
#   distributed_test.sh PATH_TO_TENDRIL
set -uo pipefail
tendril=$1
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2> /dev/null; done
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
check() {  # check "description" command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.05; done
url="redis://127.0.0.1:$port"

tree=$work/tree
for d in $(seq 1 20); do
  mkdir -p "$tree/d$d"
  for f in $(seq 1 150); do echo "file $d/$f" > "$tree/d$d/f$f"; done
done
head -c 2000000 /dev/urandom > "$tree/d1/big"
ln -s nowhere "$tree/dangling"
files=$(find "$tree" -type f | wc -l)

# With no worker yet, the scan waits: a first worker takes files and is frozen while it holds
# some (so that its death strands them), then killed.
"$tendril" worker --redis "$url" -w 1 --min-idle 1 > /dev/null 2>&1 &
doomed=$!; pids+=("$doomed")
"$tendril" scan --no-progress --distributed --max-in-flight 64 --redis "$url" "$tree" \
  > "$work/sums" 2> "$work/err" &
scan=$!; pids+=("$scan")
held=0
for _ in $(seq 1 500); do
  kill -STOP "$doomed"
  held=$(redis-cli -p "$port" xpending tendril:scan:work scan 2> /dev/null | head -1)
  [ "${held:-0}" -gt 0 ] 2> /dev/null && break
  kill -CONT "$doomed"
  sleep 0.01
done
check "the first worker held files when it was killed ($held)" test "${held:-0}" -gt 0
kill -KILL "$doomed"
"$tendril" worker --redis "$url" -w 2 --min-idle 1 > /dev/null 2> "$work/w2" &
w2=$!; pids+=("$w2")
"$tendril" worker --redis "$url" -w 2 --min-idle 1 > /dev/null 2> "$work/w3" &
w3=$!; pids+=("$w3")
wait "$scan"
status=$?
check "the scan reports the dangling link: exit 1 (got $status)" test "$status" -eq 1
check "one line per file ($(wc -l < "$work/sums") of $files)" test "$(wc -l < "$work/sums")" -eq "$files"
check "every line passes sha256sum -c" sha256sum -c --quiet "$work/sums"
check "the same digests as a local scan" \
  diff <(sort -k2 "$work/sums") <("$tendril" scan --no-state "$tree" 2> /dev/null | sort -k2)
check "the dangling link is named as locally" grep -q "dangling: No such file or directory" "$work/err"
check "the summary counts duplicates" grep -Eq '\| duplicates +\| +[0-9]+ \(answered twice, dropped\) \|' "$work/err"
check "nothing stays pending" test "$(redis-cli -p "$port" xpending tendril:scan:work scan | head -1)" -eq 0
check "the run's results stream is gone" test -z "$(redis-cli -p "$port" --scan --pattern 'tendril:scan:results:*')"
"$tendril" watch --once --redis "$url" > "$work/watch" 2>&1
check "watch shows the scan group: 5 consumers (the dead one too), nothing pending or waiting" \
  grep -Eq '^scan +scan +[0-9]/5 +0 +0 +[0-9]+ +0$' "$work/watch"
kill -TERM "$w2" "$w3"
wait "$w2"; s2=$?
wait "$w3"; s3=$?
check "SIGTERM ends a worker with exit 0 ($s2, $s3)" test "$s2" -eq 0 -a "$s3" -eq 0
claimed=$(cat "$work/w2" "$work/w3" | awk -F'|' '/claimed from others/ { n += $3 } END { print n + 0 }')
check "the dead worker's files were claimed by the others ($claimed)" test "$claimed" -gt 0

# A flow's jobs across two runtimes: `flow run --from-stream` serves, `flow send` sends.
flows=$(cd "$(dirname "$0")/../../examples/flows" && pwd)
"$tendril" flow run "$flows/counting.json" --from-stream counting --redis "$url" > /dev/null 2> "$work/r1" &
r1=$!; pids+=("$r1")
"$tendril" flow run "$flows/counting.json" --from-stream counting --redis "$url" > /dev/null 2> "$work/r2" &
r2=$!; pids+=("$r2")
seq 1 60 | sed 's/.*/{"n": &}/' | { cat; echo '[1, 2]'; } |
  "$tendril" flow send counting --redis "$url" > "$work/sent" 2> "$work/send-err"
status=$?
check "flow send: a bad line makes exit 1 (got $status)" test "$status" -eq 1
check "flow send: one outcome line per job, all completed" \
  test "$(grep -c '"status":"completed"' "$work/sent")" -eq 60
check "flow send: in input order (job keys :0 to :59)" \
  test "$(sed -n 's/.*"job_id":"[0-9a-f]*:\([0-9]*\)".*/\1/p' "$work/sent" | tr '\n' ' ')" = "$(seq -s ' ' 0 59) "
check "flow send: the bad line is named" grep -q "stdin:61: " "$work/send-err"
kill -TERM "$r1" "$r2"
wait "$r1"; s1=$?
wait "$r2"; s2=$?
check "flow run --from-stream: SIGTERM ends serving with exit 0 ($s1, $s2)" test "$s1" -eq 0 -a "$s2" -eq 0
served=$(cat "$work/r1" "$work/r2" | awk -F'|' '/^\| completed/ { n += $3 } END { print n + 0 }')
check "the two runtimes completed the 60 jobs between them ($served)" test "$served" -eq 60
check "both took a share" bash -c "grep -Eq '^\| completed +\| +[1-9]' '$work/r1' && grep -Eq '^\| completed +\| +[1-9]' '$work/r2'"

"$tendril" scan --distributed --no-progress "$tree" > /dev/null 2> "$work/no-redis"
check "--distributed without a Redis is a usage error (exit $?)" test $? -eq 2
check "saying what it needs" grep -q -- "--distributed needs a Redis" "$work/no-redis"
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$tendril" worker --redis "redis://127.0.0.1:$dead_port" > /dev/null 2> "$work/dead"
check "a worker with no Redis to reach: exit 2 (got $?)" test $? -eq 2
check "naming the URL" grep -q "127.0.0.1:$dead_port" "$work/dead"

echo "distributed: $failures failed"
test $failures -eq 0
