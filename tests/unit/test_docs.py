"""The README documents the attributes the engine and lint actually know."""

from __future__ import annotations

from pathlib import Path

from app.engine.attributes import attribute_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_attribute_table_is_current() -> None:
    text = README.read_text()
    start = text.index("<!-- attributes:start -->") + len("<!-- attributes:start -->")
    end = text.index("<!-- attributes:end -->")
    assert text[start:end].strip() == attribute_table()
