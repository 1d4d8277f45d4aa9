"""Credit prices per model × option, from one operator-editable JSON table (PRICES_FILE).

Shape: {"<model>": {"base": N, "<option>": {"<value>": extra, ...}, ...}, ...}. A job costs the
model's base plus the extra of every chosen value; values not listed add nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_PRICES: dict[str, dict[str, Any]] = {
    "grok": {"base": 1, "duration": {"10": 1, "15": 2}, "quality": {"720p": 1}},
    "happyhorse": {"base": 2, "duration": {"3": -1, "10": 2, "15": 4}, "quality": {"1080p": 2}},
    "panzoom": {"base": 1},
}


class PriceTableError(ValueError):
    """The prices file is not a valid table."""


class PriceTable:
    """Looks up the price of a model with chosen options."""

    def __init__(self, table: dict[str, dict[str, Any]] | None = None) -> None:
        self.table = _validate(table if table is not None else DEFAULT_PRICES)

    @classmethod
    def load(cls, path: Path | None) -> PriceTable:
        """The defaults, overridden model by model by the file at `path` when given."""
        if path is None:
            return cls()
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PriceTableError(f"PRICES_FILE {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise PriceTableError(f"PRICES_FILE {path}: the top level must be an object")
        return cls({**DEFAULT_PRICES, **loaded})

    def price(self, model: str, options: dict[str, str]) -> int:
        entry = self.table.get(model, {"base": 1})
        total = int(entry.get("base", 1))
        for name, value in options.items():
            extras = entry.get(name)
            if isinstance(extras, dict):
                total += int(extras.get(value, 0))
        return max(total, 0)


def _validate(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for model, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("base", 1), int):
            raise PriceTableError(f"prices for {model!r} need an integer 'base'")
        for name, extras in entry.items():
            if name == "base":
                continue
            if not isinstance(extras, dict) or not all(
                isinstance(v, int) for v in extras.values()
            ):
                raise PriceTableError(f"prices for {model!r}.{name} must map values to integers")
    return table
