"""The logistics benchmark page keeps one section per scale: rewriting one scale leaves the other intact."""

from __future__ import annotations

from pathlib import Path

from benchmarks.logistics import TITLE, section_of, write_section


def test_a_scale_section_replaces_only_itself(tmp_path: Path):
    page = tmp_path / "logistics.md"
    write_section("small", "## small world\n\nsmall v1\n", page)
    write_section("tiny", "## tiny world\n\ntiny v1\n", page)
    write_section("small", "## small world\n\nsmall v2\n", page)
    text = page.read_text(encoding="utf-8")
    assert text.startswith(TITLE)
    assert text.index("## tiny world") < text.index("## small world")  # fixed order, whatever ran last
    assert section_of(text, "tiny") == "## tiny world\n\ntiny v1\n"
    assert section_of(text, "small") == "## small world\n\nsmall v2\n"
    assert "small v1" not in text
    assert section_of(TITLE, "tiny") is None
