"""core/METHOD.md: the method document the code cites exists and has every cited section."""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
DOCUMENT = REPOSITORY / "core" / "METHOD.md"
CITATION = re.compile(r"METHOD\.md\s+sections?\s+(\d+)(?:\s*-\s*(\d+))?")


def python_files() -> list[Path]:
    """The code and the tests (this file names the document on purpose)."""
    paths = sorted((REPOSITORY / "core").rglob("*.py")) + sorted((REPOSITORY / "tests").rglob("*.py"))
    return [path for path in paths if path.resolve() != Path(__file__).resolve()]


def cited_sections() -> dict[int, list[str]]:
    """Section number -> the files citing it."""
    cited: dict[int, list[str]] = {}
    for path in python_files():
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            first = int(match.group(1))
            last = int(match.group(2) or first)
            for number in range(first, last + 1):
                cited.setdefault(number, []).append(str(path.relative_to(REPOSITORY)))
    return cited


def test_every_cited_section_exists():
    headings = {int(number) for number in re.findall(r"^## (\d+)\. ", DOCUMENT.read_text(encoding="utf-8"), re.M)}
    cited = cited_sections()
    assert len(cited) >= 5, "the citations were not found: did their wording change?"
    missing = {number: files for number, files in cited.items() if number not in headings}
    assert not missing, f"sections cited but absent from core/METHOD.md: {missing}"


def test_citations_name_the_document_by_its_path_in_the_repository():
    bare = []
    for path in python_files():
        if re.search(r"(?<![/\w])METHOD\.md", path.read_text(encoding="utf-8")):
            bare.append(str(path.relative_to(REPOSITORY)))
    assert not bare, f"these cite a bare METHOD.md instead of core/METHOD.md: {bare}"


def test_the_readme_links_the_method_document():
    assert "(core/METHOD.md)" in (REPOSITORY / "README.md").read_text(encoding="utf-8")
