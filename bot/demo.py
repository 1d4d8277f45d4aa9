"""The offline demo (`python -m bot demo`): placeholder until the demo lands."""

from __future__ import annotations


def run_demo(argv: list[str]) -> int:
    """Run the demo; returns the process exit status."""
    print("the offline demo is not implemented yet")
    return 1
