"""One table per model: which options the keyboard offers, validation and photo limits.

The keyboard, the validation of callback data and the price table are all built from these
specs, so a model never offers an option its API rejects. A provider declares, per model it sells,
the spec it accepts; the same model sold by several providers is shown once (see registry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_IMAGE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class OptionSpec:
    """One keyboard row: a named option, its allowed values and the default."""

    name: str  # "mode", "duration", "quality", "aspect_ratio"
    values: tuple[str, ...]
    default: str

    def __post_init__(self) -> None:
        if self.default not in self.values:
            raise ValueError(f"default {self.default!r} not in {self.values!r}")


@dataclass(frozen=True)
class ModelSpec:
    """A model as one provider sells it."""

    key: str  # short, stable id used in callback data and the database: "grok", "happyhorse"
    title: str  # shown on the model button
    options: tuple[OptionSpec, ...]
    prompt_required: bool = True
    min_side_px: int = 1
    max_aspect: float | None = None  # max(w/h, h/w) allowed, e.g. 2.5
    max_bytes: int = MAX_IMAGE_BYTES
    seeded: bool = False  # the API takes a seed: "Again, same seed" can repeat a result

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)

    def defaults(self) -> dict[str, str]:
        return {o.name: o.default for o in self.options}

    def accepts(self, values: dict[str, str]) -> bool:
        """True when every chosen value is one this spec offers (and nothing is missing)."""
        return all(o.name in values and values[o.name] in o.values for o in self.options) and set(
            values
        ) <= {o.name for o in self.options}

    def normalise(self, values: dict[str, str]) -> dict[str, str]:
        """Keep valid chosen values, fill the rest with defaults, drop unknown names."""
        return {
            o.name: values[o.name] if values.get(o.name) in o.values else o.default
            for o in self.options
        }


GROK_TITLE = "Grok Imagine"
HAPPYHORSE_TITLE = "HappyHorse 1.0"
LOCAL_TITLE = "Pan & zoom"  # "(local)" meant nothing to users

ASPECT_RATIOS = ("auto", "16:9", "9:16", "1:1", "4:3", "3:4")

# "auto" on the keyboard means "keep the photo's shape": a provider whose API has no "auto"
# receives the documented ratio nearest to the photo (see nearest_ratio).
AUTO_ASPECT = "auto"


def nearest_ratio(size: tuple[int, int] | None, choices: tuple[str, ...]) -> str | None:
    """The "w:h" in `choices` closest to the photo's shape (compared on a log scale, so 2:1 and
    1:2 are equally far from 1:1); None when the size is unknown or nothing fits."""
    ratios = [c for c in choices if c != AUTO_ASPECT]
    if size is None or min(size) <= 0 or not ratios:
        return None
    shape = math.log(size[0] / size[1])

    def distance(choice: str) -> float:
        w, h = (int(x) for x in choice.split(":"))
        return abs(math.log(w / h) - shape)

    return min(ratios, key=distance)
