"""The SVG chart builders (a pure module): well-formed, accessible, every value present, labels escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from rewards import charts

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    title = root.find(f"{NS}title")
    assert title is not None and title.text
    assert root.get("aria-labelledby") == title.get("id")
    return root


def _mark_titles(root: ET.Element, tag: str) -> list[str]:
    return [m.find(f"{NS}title").text or "" for m in root.iter(f"{NS}{tag}") if m.find(f"{NS}title") is not None]  # type: ignore[union-attr]


def test_stacked_bars_one_segment_per_non_zero_value_with_its_number() -> None:
    svg = charts.stacked_bars(
        "Accounts per tier",
        ["2026-09", "2026-10"],
        [("a", "начинающий", "#111"), ("b", "идеальный", "#222")],
        [{"a": 30, "b": 10}, {"a": 0, "b": 25}],
        chart_id="t",
    )
    root = _parse(svg)
    assert root.get("id") == "t"
    assert _mark_titles(root, "rect") == [
        "2026-09 · начинающий: 30", "2026-09 · идеальный: 10", "2026-10 · идеальный: 25",
    ]
    heights = {t: float(r.get("height", 0)) for r, t in zip(
        [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None],
        _mark_titles(root, "rect"), strict=True)}
    # one scale: 30 accounts are three times as tall as 10, and the tallest bar is the largest total (40)
    assert heights["2026-09 · начинающий: 30"] == pytest.approx(3 * heights["2026-09 · идеальный: 10"], abs=0.2)
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "40" in texts and "25" in texts  # the totals above the bars


def test_labels_are_escaped() -> None:
    svg = charts.stacked_bars("<script>", ["a&b"], [("k", "<b>", "red")], [{"k": 1}])
    root = _parse(svg)  # still well-formed XML
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert root.find(f"{NS}title").text == "<script>"  # type: ignore[union-attr]


def test_heat_matrix_prints_every_count_and_outlines_the_diagonal() -> None:
    values = [[5, 1, 0], [2, 7, 3], [0, 0, 4]]
    svg = charts.heat_matrix("Movement", ["x", "y", "new"], ["x", "y", "gone"], values, diagonal=2)
    root = _parse(svg)
    titles = _mark_titles(root, "rect")
    assert titles[0] == "x → x: 5" and titles[5] == "y → gone: 3" and len(titles) == 9
    cells = [r for r in root.iter(f"{NS}rect")]
    outlined = [r.find(f"{NS}title").text for r in cells if r.get("stroke-width") == "2"]  # type: ignore[union-attr]
    assert outlined == ["x → x: 5", "y → y: 7"]
    # darkest where the count is largest
    fills = {r.find(f"{NS}title").text: r.get("fill") for r in cells}  # type: ignore[union-attr]
    assert fills["y → y: 7"] == "rgb(21,101,192)" and fills["x → y: 1"] != fills["y → y: 7"]
    with pytest.raises(ValueError):
        charts.heat_matrix("bad", ["a"], ["a", "b"], [[1]])


def test_level_steps_height_by_level_and_gaps_for_missing_months() -> None:
    svg = charts.level_steps(
        "Tier over 3 months", ["2026-08", "2026-09", "2026-10"], [None, 0, 3],
        ["l0", "l1", "l2", "l3"], ["#0", "#1", "#2", "#3"], missing="нет",
    )
    root = _parse(svg)
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert [b.find(f"{NS}title").text for b in bars] == ["2026-09: l0", "2026-10: l3"]  # type: ignore[union-attr]
    assert float(bars[1].get("height", 0)) == 4 * float(bars[0].get("height", 0))
    assert [b.get("fill") for b in bars] == ["#0", "#3"]
    assert "2026-08: нет" in svg
    with pytest.raises(ValueError):
        charts.level_steps("bad", ["m"], [4], ["a"], ["#0"])
