"""The pure part stays pure: no module of zgossip.protocol does I/O or reads a clock.

The protocol cores are plain objects (input and the time in, effects out): what lets the
simulator and these tests drive them with no socket at all. This test reads each module
of the package and fails on an import of what does I/O (ZeroMQ, threads, the clock, the
file system, the network), of a zgossip module outside the package, or on a call of
``open``. Imports made only for the type checker (``if TYPE_CHECKING:``) are types, not I/O.
"""

from __future__ import annotations

import ast
from pathlib import Path

import zgossip.protocol

PURE = Path(zgossip.protocol.__file__).parent
#: What does I/O, threads or time: none of it may be imported by the pure part.
FORBIDDEN = frozenset(
    {
        "zmq", "threading", "time", "os", "pathlib", "io", "socket", "select", "selectors",
        "asyncio", "subprocess", "shutil", "tempfile", "signal", "multiprocessing",
        "concurrent", "ctypes", "sys", "glob", "logging", "urllib", "http",
    }
)  # fmt: skip


def impurities(source: str) -> list[str]:
    """What in ``source`` (a module's text) reaches outside the pure part."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(f"import {a.name}" for a in node.names if _outside(a.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "zgossip":  # the names are modules: none of them pure
                found.extend(f"from zgossip import {a.name}" for a in node.names)
            elif _outside(node.module):
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "open":
            found.append("open(...)")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _outside(module: str) -> bool:
    root = module.split(".")[0]
    if root == "zgossip":
        return not (module == "zgossip.protocol" or module.startswith("zgossip.protocol."))
    return root in FORBIDDEN


def test_no_module_of_the_protocol_does_io_or_reads_a_clock() -> None:
    modules = sorted(PURE.glob("*.py"))
    assert len(modules) > 15  # the package is where it is said to be
    found = {m.name: impurities(m.read_text()) for m in modules}
    assert {name: what for name, what in found.items() if what} == {}


def test_the_check_catches_what_it_is_for() -> None:
    assert impurities("import zmq\nimport threading") == ["import zmq", "import threading"]
    assert impurities("from time import monotonic") == ["from time import ..."]
    assert impurities("from pathlib import Path") == ["from pathlib import ..."]
    assert impurities("from zgossip.node import Node") == ["from zgossip.node import ..."]
    assert impurities("from zgossip import events") == ["from zgossip import events"]
    assert impurities("def f() -> None:\n    open('x')") == ["open(...)"]
    assert impurities("import heapq\nfrom zgossip.protocol import wire") == []
    assert impurities("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import zmq") == []
