#!/usr/bin/env sh
# The installed Python packages import and run a pipeline with nothing from the source tree.
#   install_check.sh PREFIX BUILD_DIR PYTHON PACKAGE_DIR
set -eu
prefix=$1 build=$2 python=$3 packages=$1/$4
rm -rf "$prefix"
cmake --install "$build" --component python --prefix "$prefix" >/dev/null
cd /
INSTALLED=$packages PYTHONPATH=$packages "$python" -c '
import asyncio, os
import pipevine, prefect_tool_state
from pipevine import Pipeline, work_pool
assert pipevine.__file__.startswith(os.environ["INSTALLED"]), pipevine.__file__
result = asyncio.run((Pipeline(range(5)) >> work_pool()(lambda x, s: x + 1)).run())
assert result.processed == 5, result
print("installed ok:", os.environ["INSTALLED"])
'
