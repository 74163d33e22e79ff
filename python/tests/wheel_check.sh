#!/usr/bin/env sh
# The wheel builds offline with Debian's pip, setuptools and wheel (no index, no build
# isolation), and what it installs imports and runs pipelines, process workers among them, with
# nothing from the source tree.
#   wheel_check.sh WORK BUILD_DIR PYTHON
set -eu
work=$1 build=$2 python=$3
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work/dist"
TENDRIL_CMAKE_BUILD_DIR=$build PIP_ROOT_USER_ACTION=ignore "$python" -m pip wheel --quiet --no-build-isolation --no-index \
  --no-deps -w "$work/dist" "$source_dir/python"
wheel=$(ls "$work"/dist/tendril_python-*.whl)
PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --no-index --no-deps --target "$work/site" "$wheel"
mkdir -p "$work/user"  # a user's module: process workers import handlers by name
printf 'def double(x, state):\n    return x * 2\n' > "$work/user/handlers.py"
cd /
INSTALLED=$work/site PYTHONPATH=$work/site:$work/user "$python" -c '
import asyncio, os
import handlers, pipevine, prefect_tool_state, _tendril
from pipevine import Pipeline, work_pool
for module in (pipevine, prefect_tool_state, _tendril):
    assert module.__file__.startswith(os.environ["INSTALLED"]), module.__file__

async def main():
    threads = await (Pipeline(range(5)) >> work_pool()(lambda x, s: x + 1)).run()
    doubled = []
    pipe = Pipeline(range(5)) >> work_pool(multi_proc=True, num_workers=2)(handlers.double)
    async for out in pipe.async_iter():
        doubled.append(out)
    return threads, pipe.result, sorted(doubled)

threads, processes, doubled = asyncio.run(main())
assert threads.processed == 5, threads
assert doubled == [0, 2, 4, 6, 8], (processes, doubled)
print("wheel ok:", os.path.basename(os.environ["INSTALLED"]))
'
