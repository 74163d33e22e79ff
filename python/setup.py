"""Builds the _tendril extension with CMake for the wheel; pyproject.toml has the rest.

TENDRIL_CMAKE_BUILD_DIR names a CMake build tree to build the module in (one made by a preset,
say); without it, build/python-wheel under the source tree is configured for the Python that
runs this build, with only what the module needs.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCE = Path(__file__).resolve().parent.parent  # the repository: CMakeLists.txt is there


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        build = Path(os.environ.get("TENDRIL_CMAKE_BUILD_DIR", SOURCE / "build" / "python-wheel"))
        if not (build / "CMakeCache.txt").exists():
            subprocess.check_call([
                "cmake", "-S", str(SOURCE), "-B", str(build), "-G", "Ninja",
                "-DCMAKE_BUILD_TYPE=Release", "-DTENDRIL_BUILD_PYTHON=ON",
                "-DTENDRIL_BUILD_TESTS=OFF", "-DTENDRIL_BUILD_EXAMPLES=OFF",
                "-DTENDRIL_BUILD_CLI=OFF", "-DTENDRIL_INSTALL=OFF",
                f"-DPython_EXECUTABLE={sys.executable}",
            ])
        subprocess.check_call(["cmake", "--build", str(build), "--target", "_tendril"])
        built = sorted((build / "python").glob("_tendril*.so"))
        if not built:
            raise RuntimeError(f"CMake built no _tendril module in {build / 'python'}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], target)


setup(ext_modules=[Extension("_tendril", sources=[])], cmdclass={"build_ext": CMakeBuild})
