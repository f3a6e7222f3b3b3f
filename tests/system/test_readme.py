"""The README's promises, kept: its library examples run as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_ports

pytestmark = pytest.mark.system

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize(
    ("which", "says"), [(0, "hello, network"), (1, "0.42"), (2, "hello, asyncio")]
)
def test_library_examples_run_as_printed(tmp_path: Path, which: int, says: str) -> None:
    example = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)[which]
    for port, free in zip((7001, 7101, 7102), free_ports(3), strict=True):  # never collide
        example = example.replace(f'"127.0.0.1", {port})', f'"127.0.0.1", {free})')
    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"127\.0\.0\.1:\d+ says '{says}'\n", result.stdout)
