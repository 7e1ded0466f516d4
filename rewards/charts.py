"""Charts as inline SVG, drawn on the server: no JavaScript, nothing fetched, safe under a strict CSP.

A pure module (standard library only): each builder takes plain numbers and already translated
labels, and returns the SVG text with every label escaped. Each chart is an image for assistive
technology (``role="img"``, a ``<title>`` and ``aria-labelledby``), every mark carries its value in
its own ``<title>`` (shown on hover), and the pages print the same values as a text table next to it.

- :func:`stacked_bars`: one bar per category (a month), stacked by series (the tiers).
- :func:`heat_matrix`: a matrix of counts (tier in one month × tier in another), darker is more.
- :func:`level_steps`: one value per month on an ordered scale (an account's tier over 12 months).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from html import escape

_FONT = 11
_ids = itertools.count(1)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _open(width: int, height: int, title: str, css_class: str, chart_id: str | None) -> tuple[str, str]:
    ident = chart_id or f"chart-{next(_ids)}"
    head = (
        f'<svg class="chart {css_class}" id="{_e(ident)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="{_e(ident)}-title" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{_e(ident)}-title">{_e(title)}</title>'
    )
    return head, ident


def _fmt(number: float) -> str:
    """A coordinate with at most one decimal (short SVG, stable text for tests)."""
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


def stacked_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, str]],
    values: Sequence[Mapping[str, int]],
    *,
    chart_id: str | None = None,
    bar_width: int = 36,
    height: int = 200,
) -> str:
    """Stacked bars: ``values[i][key]`` of each series ``(key, label, colour)`` in category ``i``.

    Bars share one scale (the largest total), so that a month with more accounts is a taller bar;
    the legend names each series with its colour.
    """
    if len(values) != len(categories):
        raise ValueError("one set of values per category")
    gap, left, top, legend = 14, 44, 20, 22
    plot = height - top - 2 * _FONT - 10
    legend_width = sum(24 + 7 * len(label) for _key, label, _colour in series)
    width = max(left + max(1, len(categories)) * (bar_width + gap) + gap, left + legend_width)
    head, _ident = _open(width, height + legend, title, "stacked", chart_id)
    parts = [head]
    largest = max([sum(max(0, int(v.get(key, 0))) for key, _l, _c in series) for v in values] + [1])
    base = top + plot
    parts.append(f'<line x1="{left - 4}" y1="{base}" x2="{width}" y2="{base}" stroke="#98a2b3"/>')
    parts.append(f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="{_FONT}">{largest}</text>')
    parts.append(f'<text x="{left - 6}" y="{base}" text-anchor="end" font-size="{_FONT}">0</text>')
    for i, (category, row) in enumerate(zip(categories, values, strict=True)):
        x = left + gap + i * (bar_width + gap)
        y = float(base)
        total = 0
        for key, label, colour in series:
            n = max(0, int(row.get(key, 0)))
            total += n
            if n == 0:
                continue
            h = plot * n / largest
            y -= h
            parts.append(
                f'<rect x="{x}" y="{_fmt(y)}" width="{bar_width}" height="{_fmt(h)}" fill="{_e(colour)}">'
                f"<title>{_e(category)} · {_e(label)}: {n}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar_width / 2:g}" y="{base + _FONT + 4}" text-anchor="middle" '
            f'font-size="{_FONT}">{_e(category)}</text>'
        )
        parts.append(
            f'<text x="{x + bar_width / 2:g}" y="{_fmt(y - 3)}" text-anchor="middle" font-size="{_FONT}">{total}</text>'
        )
    parts.append(_legend(series, height + 4, left))
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[tuple[str, str, str]], y: int, x0: int) -> str:
    parts = []
    x = x0
    for _key, label, colour in series:
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{_e(colour)}"/>')
        parts.append(f'<text x="{x + 14}" y="{y + 9}" font-size="{_FONT}">{_e(label)}</text>')
        x += 24 + 7 * len(label)
    return "".join(parts)


def _shade(share: float) -> str:
    """White (nothing) to a deep blue (the largest cell), as an ``rgb()`` colour."""
    share = min(1.0, max(0.0, share))
    r = round(255 - share * (255 - 21))
    g = round(255 - share * (255 - 101))
    b = round(255 - share * (255 - 192))
    return f"rgb({r},{g},{b})"


def heat_matrix(
    title: str,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[int]],
    *,
    row_axis: str = "",
    col_axis: str = "",
    chart_id: str | None = None,
    cell: int = 96,
    diagonal: int | None = None,
) -> str:
    """A heat map of counts: row ``i`` × column ``j`` is ``values[i][j]``; the darker, the more.

    Each cell prints its count; the first ``diagonal`` cells of the diagonal (default: all of it:
    no change) are outlined, so that movement off it shows.
    """
    outlined = min(len(row_labels), len(col_labels)) if diagonal is None else diagonal
    if len(values) != len(row_labels) or any(len(row) != len(col_labels) for row in values):
        raise ValueError("values must be len(row_labels) rows of len(col_labels) counts")
    left, top = 110, 40
    width = left + cell * len(col_labels) + 4
    height = top + cell * len(row_labels) + 4
    head, _ident = _open(width, height, title, "heat", chart_id)
    parts = [head]
    largest = max([int(v) for row in values for v in row] + [1])
    if col_axis:
        parts.append(f'<text x="{left}" y="{_FONT + 2}" font-size="{_FONT}" font-weight="600">{_e(col_axis)}</text>')
    if row_axis:
        parts.append(f'<text x="0" y="{_FONT + 2}" font-size="{_FONT}" font-weight="600">{_e(row_axis)}</text>')
    for j, label in enumerate(col_labels):
        parts.append(
            f'<text x="{left + j * cell + cell / 2:g}" y="{top - 6}" text-anchor="middle" '
            f'font-size="{_FONT}">{_e(label)}</text>'
        )
    for i, label in enumerate(row_labels):
        y = top + i * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4:g}" text-anchor="end" font-size="{_FONT}">{_e(label)}</text>'
        )
        for j, col in enumerate(col_labels):
            n = int(values[i][j])
            x = left + j * cell
            share = n / largest
            stroke = ' stroke="#1d2433" stroke-width="2"' if i == j < outlined else (
                ' stroke="#e4e7ec"'
            )
            dark = share > 0.55
            ink = "#ffffff" if dark else "#1d2433"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{_shade(share)}"{stroke}>'
                f"<title>{_e(label)} → {_e(col)}: {n}</title></rect>"
            )
            parts.append(
                f'<text class="cell{" dark" if dark else ""}" x="{x + cell / 2 - 1:g}" y="{y + cell / 2 + 4:g}" '
                f'text-anchor="middle" font-size="{_FONT + 1}" fill="{ink}">{n}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def level_steps(
    title: str,
    categories: Sequence[str],
    levels: Sequence[int | None],
    level_labels: Sequence[str],
    colours: Sequence[str],
    *,
    missing: str = "none",
    chart_id: str | None = None,
    column: int = 40,
) -> str:
    """One column per category whose height is its level (0 .. len(level_labels) - 1), coloured by
    level; None is a gap, a dash whose title says ``missing`` (e.g. a month without a snapshot)."""
    if len(levels) != len(categories):
        raise ValueError("one level per category")
    if len(colours) != len(level_labels):
        raise ValueError("one colour per level")
    left, top, step = 104, 6, 22
    plot = step * len(level_labels)
    height = top + plot + 2 * _FONT + 8
    width = left + column * max(1, len(categories)) + 4
    head, _ident = _open(width, height, title, "steps", chart_id)
    parts = [head]
    base = top + plot
    for k, label in enumerate(level_labels):
        y = base - (k + 1) * step
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width}" y2="{y}" stroke="#eef0f3"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + step / 2 + 4:g}" text-anchor="end" font-size="{_FONT}">{_e(label)}</text>'
        )
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width}" y2="{base}" stroke="#98a2b3"/>')
    for i, (category, level) in enumerate(zip(categories, levels, strict=True)):
        x = left + i * column + 3
        if level is None:
            parts.append(
                f'<text x="{x + (column - 6) / 2:g}" y="{base - 4}" text-anchor="middle" font-size="{_FONT}">'
                f"—<title>{_e(category)}: {_e(missing)}</title></text>"
            )
        else:
            if not 0 <= level < len(level_labels):
                raise ValueError(f"level {level} is out of range")
            h = (level + 1) * step
            parts.append(
                f'<rect x="{x}" y="{base - h}" width="{column - 6}" height="{h}" fill="{_e(colours[level])}">'
                f"<title>{_e(category)}: {_e(level_labels[level])}</title></rect>"
            )
        short = category[2:] if len(category) == 7 else category  # 2026-10 -> 26-10
        parts.append(
            f'<text x="{x + (column - 6) / 2:g}" y="{base + _FONT + 4}" text-anchor="middle" '
            f'font-size="{_FONT - 1}">{_e(short)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
