"""The optional extras (``plot``, ``metrics``): how to get one that is missing."""

from __future__ import annotations

from pathlib import Path


def install_hint(extra: str) -> str:
    """How to add an extra, as zgossip was installed: from a source checkout (editable)
    or as a package (a wheel)."""
    checkout = Path(__file__).resolve().parents[1]  # zgossip/extras.py: the checkout
    if (checkout / "setup.cfg").is_file() and (checkout / "zgossip").is_dir():
        return f"pip install -e '{checkout}[{extra}]'"
    return f"pip install 'zgossip[{extra}]'"
