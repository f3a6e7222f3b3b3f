"""The build: the protocol's hot modules compiled to C with mypyc where that can be done,
pure Python where not.

- A wheel (``pip install .``, what users get) compiles :data:`COMPILED` when mypy's
  compiler imports (a build requirement, pyproject.toml) and a C compiler works. If either
  fails the build goes on without them and the pure Python runs: ``zgossip --version``
  says which.
- An editable install (``pip install -e .``) is never compiled: it runs the code as
  edited.
- ``ZGOSSIP_PURE=1`` builds a pure wheel anywhere.

mypyc needs the code to pass ``mypy --strict`` (it does, in CI) and to keep to what it
compiles: wire.py (schemas read from annotations at import) and records.py (classes made
by a decorator) are not in the list and stay interpreted.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

#: The pure core but the codec and the records: where a message's Python time goes in
#: the core, and all that the simulator runs.
COMPILED = [
    f"zgossip/protocol/{name}.py"
    for name in (
        "agreement", "clock", "config", "core", "deadlines", "effects", "entropy", "gossip",
        "liveness", "members", "outbox", "overlay", "peer", "queries", "registration",
        "registry", "repeats", "seed", "store", "tree", "watch",
    )
]  # fmt: skip


def _pure(why: str) -> None:
    print(f"zgossip: not compiled ({why}); the pure Python will run", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """Compiles the extensions if it can; if not, says so and leaves the pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, a compiler error: the pure build
            _pure(str(exc))
            for built in self.get_outputs():
                if os.path.exists(built):
                    os.remove(built)
            self.extensions = []


def _extensions() -> list[Any]:
    if os.environ.get("ZGOSSIP_PURE") == "1":
        return []
    if not {"bdist_wheel", "build_ext"} & set(sys.argv):  # metadata, editable: no C
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _pure("mypy is not installed")
        return []
    # The build has none of the run's dependencies (pyzmq, typer): the modules that use
    # them are not compiled, and their errors are not ours to see here (CI's mypy does).
    options = ["--ignore-missing-imports", "--follow-imports=silent"]
    try:  # separate: each module its own library, no extra top-level module installed
        return list(mypycify([*options, *COMPILED], opt_level="3", separate=True))
    except (Exception, SystemExit) as exc:  # mypy found what it cannot compile
        _pure(str(exc))
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
