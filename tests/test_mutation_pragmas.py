"""Every line kept from mutation says why, with a tag that docs/mutation-pragmas.md explains."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRAGMA = re.compile(r"# pragma: no mutate( start| end)?(?: \(([^)]*)\))?")


def pragmas():
    for path in sorted((ROOT / "robojam").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in PRAGMA.finditer(line):
                yield f"{path.relative_to(ROOT)}:{number}", match.group(1), match.group(2)


def explained():
    table = (ROOT / "docs" / "mutation-pragmas.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.MULTILINE))


def test_the_glossary_lists_tags():
    assert {"truth-value", "reshape-neg", "count-origin"} <= explained()


@pytest.mark.parametrize("where, kind, tags", list(pragmas()))
def test_each_pragma_names_explained_reasons(where, kind, tags):
    if kind == " end":
        assert tags is None, where
        return
    assert tags, f"{where}: a pragma without its reason's tag"
    unknown = {tag.strip() for tag in tags.split(",")} - explained()
    assert not unknown, f"{where}: tags not in docs/mutation-pragmas.md: {unknown}"
