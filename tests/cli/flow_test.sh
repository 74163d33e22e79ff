#!/usr/bin/env bash
# `tendril flow validate` and `tendril flow graph` on good and bad flow files.
set -euo pipefail
tendril=$1
examples=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The shipped file: exit 0, a summary table, no warning (its intake is marked an entry point).
out=$("$tendril" flow validate "$examples/flows/counting.json")
grep -q '| routines    |        4 |' <<<"$out" || fail "no summary table: $out"
grep -q '| warnings    |        0 |' <<<"$out" || fail "the shipped flow has warnings: $out"
grep -q 'counting.json: valid' <<<"$out" || fail "not reported valid: $out"
# Unmarked, a routine nothing feeds is a warning, with the way to say it is meant.
sed 's/, "entry": true//' "$examples/flows/counting.json" > "$work/unmarked.json"
out=$("$tendril" flow validate "$work/unmarked.json")
grep -q "warning  routine 'intake'  has slots but no incoming connection: only posts reach it (mark it \"entry\": true if that is meant)" <<<"$out" \
  || fail "no warning for an unmarked entry: $out"

# A syntax error names file, line and column; exit 1.
printf '{\n  "flow_id": "x",\n  "routines": {,}\n}\n' >"$work/syntax.json"
if err=$("$tendril" flow validate "$work/syntax.json" 2>&1); then fail "syntax error accepted"; fi
grep -q 'syntax.json:3:16: syntax error' <<<"$err" || fail "place not named: $err"

# An unknown routine type names the place and lists the known types.
echo '{"flow_id": "x", "routines": {"a": {"type": "Nope"}}}' >"$work/type.json"
if err=$("$tendril" flow validate "$work/type.json" 2>&1); then fail "unknown type accepted"; fi
grep -q "/routines/a/type: unknown routine type 'Nope' (registered: tendril.Counter, tendril.Log, tendril.Relay)" <<<"$err" \
  || fail "unknown type not explained: $err"

# A flow with an error (a batch_size policy with n = 0 never loads; a routine type with no
# logic cannot exist here, so the error case is a bad connection).
echo '{"flow_id": "x", "routines": {"a": {"type": "tendril.Relay"}},
       "connections": [{"from": "a", "event": "out", "to": "a", "slot": "input"}]}' >"$work/conn.json"
if err=$("$tendril" flow validate "$work/conn.json" 2>&1); then fail "bad connection accepted"; fi
grep -q "/connections/0: connect a.out -> a.input: routine 'a' has no slot 'input' (slots: in)" <<<"$err" \
  || fail "bad connection not explained: $err"

# graph: DOT on stdout; an SVG drawn by Graphviz; a .dot file; a bad extension.
dot_out=$("$tendril" flow graph "$examples/flows/counting.json")
grep -q '"intake" -> "count" \[label="out → in"\]' <<<"$dot_out" || fail "no edge in DOT: $dot_out"
"$tendril" flow graph "$examples/flows/counting.json" -o "$work/flow.svg" 2>/dev/null
grep -q '<svg' "$work/flow.svg" || fail "no SVG written"
grep -q 'ticker' "$work/flow.svg" || fail "SVG lacks a routine"
# A routine id cannot add attributes to the drawing (a URL would become a link in the SVG).
cat >"$work/evil.json" <<'JSON'
{"flow_id": "x", "routines": {"a\", URL=\"http://evil.example/": {"type": "tendril.Relay"}},
 "connections": []}
JSON
"$tendril" flow graph "$work/evil.json" -o "$work/evil.svg" 2>/dev/null || fail "evil graph"
grep -q 'xlink:href' "$work/evil.svg" && fail "a routine id put a link into the SVG"
grep -q 'evil.example' "$work/evil.svg" || fail "the evil id is not shown as text"
"$tendril" flow graph "$examples/flows/counting.json" -o "$work/flow.dot"
cmp -s "$work/flow.dot" <(printf '%s\n' "$dot_out") || fail ".dot file differs from stdout"
if err=$("$tendril" flow graph "$examples/flows/counting.json" -o "$work/flow.txt" 2>&1); then
  fail ".txt accepted"
fi
grep -q 'give a .dot, .svg or .png file' <<<"$err" || fail "bad extension not explained: $err"

# run: each stdin line is a job; the summary table, the saved state, a bad line reported.
out=$(printf '{"n": 1}\n{"n": 2}\n{"n": 3}\n' |
      "$tendril" flow run "$examples/flows/counting.json" --post intake.in --save-state "$work/state.json" 2>"$work/run.err")
grep -q '^log: {"n":3}$' <<<"$out" || fail "the log routine did not print: $out"
grep -q '| completed       |          3 |' "$work/run.err" || fail "no summary: $(cat "$work/run.err")"
grep -q '"count": 3' "$work/state.json" || fail "state not saved: $(cat "$work/state.json")"
if printf '{"n": 1}\nnot json\n' | "$tendril" flow run "$examples/flows/counting.json" --post intake.in \
     >/dev/null 2>"$work/bad.err"; then
  fail "a bad input line passed"
fi
printf '[1]\n' | "$tendril" flow run "$examples/flows/counting.json" --post intake.in \
  >/dev/null 2>"$work/array.err" && fail "an array line passed"
grep -q 'stdin:1: not a JSON object, skipped' "$work/array.err" || fail "array: $(cat "$work/array.err")"
grep -q 'stdin:2:2: syntax error while parsing value.*, skipped' "$work/bad.err" || fail "bad line not named: $(cat "$work/bad.err")"
if echo '{}' | "$tendril" flow run "$examples/flows/counting.json" --post intake.nope >/dev/null 2>"$work/slot.err"; then
  fail "an unknown slot passed"
fi
grep -q "routine 'intake' has no slot 'nope' (its slots: in)" "$work/slot.err" || fail "unknown slot not named: $(cat "$work/slot.err")"

# A stdin that never ends: a FIFO this script holds open for writing (on fd 8).
mkfifo "$work/endless"
exec 8<>"$work/endless"

# --post is checked before stdin is read: exit 2 at once.
status=0
timeout 5 "$tendril" flow run "$examples/flows/counting.json" --post nope.in \
  < "$work/endless" >/dev/null 2>"$work/post.err" || status=$?
[ "$status" -eq 2 ] || fail "a wrong --post exited $status, not 2 at once"
grep -q "flow 'counting' has no routine 'nope' (it has: count, intake, log, ticker)" "$work/post.err" \
  || fail "unknown routine not named: $(cat "$work/post.err")"
# Without --post, lines go to the flow's one entry point.
printf '{"n": 1}\n' | "$tendril" flow run "$examples/flows/counting.json" >/dev/null 2>"$work/entry.err" \
  || fail "no --post with one entry point: $(cat "$work/entry.err")"
grep -Eq '\| posted to +\| +intake.in \|' "$work/entry.err" || fail "entry point not used: $(cat "$work/entry.err")"

# --timeout stops reading, cancels, prints the summary, exits 124; Ctrl-C the same with 130.
status=0
echo '{"n": 1}' >&8
timeout 10 "$tendril" flow run "$examples/flows/counting.json" --timeout 1 \
  < "$work/endless" >/dev/null 2>"$work/timeout.err" || status=$?
exec 8>&-
[ "$status" -eq 124 ] || fail "--timeout exited $status, not 124: $(cat "$work/timeout.err")"
grep -Eq '\| stopped by +\| +--timeout 1 s \|' "$work/timeout.err" || fail "no timeout summary: $(cat "$work/timeout.err")"
grep -Eq '\| completed +\| +1 \|' "$work/timeout.err" || fail "the posted job did not finish: $(cat "$work/timeout.err")"
mkfifo "$work/jobs"
"$tendril" flow run "$examples/flows/counting.json" < "$work/jobs" >/dev/null 2>"$work/int.err" &
pid=$!
exec 7>"$work/jobs"
echo '{"n": 1}' >&7
for _ in $(seq 1 100); do
  mask=$(awk '/^SigBlk:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
  (( (16#$mask & 2) != 0 )) && break
  sleep 0.05
done
sleep 0.3
kill -INT $pid
status=0; wait $pid || status=$?
exec 7>&-
[ "$status" -eq 130 ] || fail "Ctrl-C exited $status, not 130: $(cat "$work/int.err")"
grep -Eq '\| stopped by +\| +Ctrl-C \|' "$work/int.err" || fail "no summary after Ctrl-C: $(cat "$work/int.err")"

# Output that cannot be written is an error too.
"$tendril" flow graph "$examples/flows/counting.json" > /dev/full 2>"$work/graph-full.err" && fail "graph > /dev/full passed"
grep -q 'tendril flow graph: cannot write to stdout: No space left on device' "$work/graph-full.err" || fail "graph: $(cat "$work/graph-full.err")"
"$tendril" flow validate "$examples/flows/counting.json" > /dev/full 2>"$work/validate-full.err" && fail "validate > /dev/full passed"
grep -q 'cannot write to stdout' "$work/validate-full.err" || fail "validate: $(cat "$work/validate-full.err")"
"$tendril" flow graph "$examples/flows/counting.json" -o "$work/no/such/dir.dot" 2>"$work/graph-dir.err" && fail "graph into a missing dir passed"
grep -q "cannot write $work/no/such/dir.dot: No such file or directory" "$work/graph-dir.err" || fail "graph -o: $(cat "$work/graph-dir.err")"

# A state that cannot be saved is an error, not a 0-byte file and exit 0.
if echo '{"n": 1}' | "$tendril" flow run "$examples/flows/counting.json" --save-state /dev/full \
     >/dev/null 2>"$work/full.err"; then
  fail "--save-state /dev/full passed"
fi
grep -q 'cannot write /dev/full: No space left on device' "$work/full.err" || fail "full disk not said: $(cat "$work/full.err")"

# Hostile input is a named error, never an abort: numbers that overflow, deep nesting, repeated
# keys in a flow file; a deeply nested stdin line is skipped and counted.
printf '{"flow_id":"x","routines":{"a":{"type":"tendril.Counter","config":{"step":1e400}}}}' \
  >"$work/overflow.json"
set +e
"$tendril" flow validate "$work/overflow.json" >/dev/null 2>"$work/overflow.err"; status=$?
set -e
[ "$status" -eq 1 ] || fail "a flow file with 1e400 exited $status: $(cat "$work/overflow.err")"
grep -q "overflow.json:1:.*number overflow parsing '1e400'" "$work/overflow.err" ||
  fail "overflow not named: $(cat "$work/overflow.err")"
printf '{"flow_id":"x","flow_id":"y","routines":{}}' >"$work/dup.json"
if "$tendril" flow validate "$work/dup.json" >/dev/null 2>"$work/dup.err"; then fail "dup key"; fi
grep -q 'the key "flow_id" appears twice' "$work/dup.err" || fail "dup key: $(cat "$work/dup.err")"
deep=$(printf '%.0s[' $(seq 1 5000))
if printf '%s\n{"n": 1}\n' "$deep" |
  "$tendril" flow run "$examples/flows/counting.json" --post intake.in >"$work/deep.out" \
    2>"$work/deep.err"; then
  fail "a deep line passed as good input"
fi
grep -q '| completed       |          1 |' "$work/deep.err" || fail "the good line: $(cat "$work/deep.err")"
grep -q 'stdin:1: nested deeper than 64 levels, skipped' "$work/deep.err" ||
  fail "deep line not named: $(cat "$work/deep.err")"

# Usage errors exit 2.
set +e
"$tendril" flow >/dev/null 2>&1; status=$?
set -e
[ "$status" -eq 2 ] || fail "'tendril flow' without a subcommand exited $status"
echo "flow CLI: ok"
