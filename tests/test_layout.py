"""The README's architecture tree names what the tree holds, and no code points outside the
repository (issue 12): a newcomer reading either finds the other."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _architecture_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1]
    return section.split("```", 2)[1]


def test_the_readme_tree_names_every_package_and_module() -> None:
    tree = _architecture_block()
    missing = []
    for package in sorted(p for p in (ROOT / "bot").iterdir() if (p / "__init__.py").is_file()):
        if f"bot/{package.name}/" not in tree:
            missing.append(f"bot/{package.name}/")
    for source in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").glob("*.py")]):
        relative = source.relative_to(ROOT)
        if source.name == "__init__.py" or relative.parts[:2] == ("bot", "testing"):
            continue  # a package is named by its folder; the fakes by their two folders
        if not re.search(rf"\b{re.escape(source.name)}\b", tree):
            missing.append(str(relative))
    assert missing == [], f"not in README's architecture tree: {missing}"


def test_no_code_points_to_documents_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|(?<!docs/)\b(DESIGN|TESTING|TELEGRAM)\.md")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("bot", "handlers", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert offenders == []
