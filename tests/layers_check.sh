#!/usr/bin/env bash
# The layers' arrows point down (docs/architecture.md):
#   core  <-  pipeline, flow  <-  redis (core only)  <-  state, stream  <-  cli
# Fails naming each include that runs the wrong way, and when <tendril/pipeline.hpp> or
# <tendril/tendril.hpp> pull in a JSON header (the cheap headers stay cheap).
# Usage: layers_check.sh SOURCE_DIR CXX
set -uo pipefail
root=$1 cxx=$2
cd "$root" || exit 2
status=0

# check ROOM ALLOWED... : every tendril include in the room's headers and sources names an
# allowed room.
check() {
  local room=$1
  shift
  local allowed="$*"
  local files
  files=$(find "include/tendril/$room" "src/$room" -name '*.hpp' -o -name '*.cpp' 2>/dev/null)
  [ -n "$files" ] || { echo "layers: room '$room' has no files"; status=1; return; }
  while IFS=: read -r file line text; do
    target=$(sed -E 's/.*[<"]tendril\/([a-z_]+)[/.].*/\1/' <<<"$text")
    ok=0
    for a in $allowed; do [ "$target" = "$a" ] && ok=1; done
    if [ $ok = 0 ]; then
      echo "layers: $file:$line: the '$room' room includes '$target' ($text); it may use: $allowed"
      status=1
    fi
  done < <(grep -nE '^\s*#\s*include\s*[<"]tendril/' $files)
}

check core core
check pipeline core pipeline
check flow core flow
check redis core redis
check state core redis state
check stream core pipeline flow redis stream

# No library file includes the CLI.
if grep -rnE '#\s*include\s*[<"](\.\./)*cli/' include src; then
  echo "layers: the library includes cli/"
  status=1
fi

# The cheap headers: pipelines need no JSON.
for header in tendril/pipeline.hpp tendril/tendril.hpp tendril/core/worker_state.hpp; do
  deps=$(echo "#include <$header>" | "$cxx" -std=c++23 -M -x c++ -I include - 2>&1) || {
    echo "layers: <$header> does not compile alone: $deps"
    status=1
    continue
  }
  if grep -q nlohmann <<<"$deps"; then
    echo "layers: <$header> pulls in nlohmann/json; pipelines must not need it"
    status=1
  fi
done

[ $status = 0 ] && echo "layers: every include points down; the pipeline headers pull in no JSON"
exit $status
