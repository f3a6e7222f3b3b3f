"""Reading ``config.txt``: the seed list, one ``IP:PORT`` a line."""

from __future__ import annotations

from pathlib import Path

from zgossip.protocol.config import Address, ConfigError


def parse_seeds(path: Path) -> list[Address]:
    """Read the seed list: one ``IP:PORT`` a line, blank lines and ``#`` comments allowed.

    Errors name the file and line, ``config.txt:3: ...``, as the CLI prints them.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    seeds: list[Address] = []
    for number, raw in enumerate(text.split("\n"), start=1):  # numbered as editors do
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            address = Address.parse(line)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: {exc}") from None
        if address in seeds:
            raise ConfigError(f"{path}:{number}: seed {address} is listed twice")
        seeds.append(address)
    if not seeds:
        raise ConfigError(f"{path}: no seeds listed (expected IP:PORT lines)")
    return seeds
