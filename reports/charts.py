"""The report's charts as inline SVG: no script, no external file, printable, readable without colour names.

Every mark carries a `<title>` (a tooltip in a browser, read out by screen readers) with its exact value,
and every text is escaped. Colours are the Okabe-Ito palette, distinguishable with the common kinds of
colour blindness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
SENTIMENT_COLOURS = {"negative": "#D55E00", "neutral": "#B8B8B8", "positive": "#009E73"}
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" font-size="12"'


def series_colour(index: int) -> str:
    """The colour of the index-th series (brands first, then competitors, in configuration order)."""
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def daily_volume_chart(days: Sequence[date], series: Sequence[tuple[str, Sequence[int]]]) -> Markup:
    """A line chart of mentions per day, one line per brand, with a legend.

    Args:
        days: the week's local days.
        series: (brand, mentions on each day) in legend order.
    """
    width, height, left, right, top, bottom = 760, 280, 52, 170, 16, 40
    plot_width, plot_height = width - left - right, height - top - bottom
    peak = max((value for _, values in series for value in values), default=0)
    step, y_max = _axis(peak)
    parts = [_svg_open(width, height, "volume", "Mentions per day and brand")]
    for tick in range(0, y_max + 1, step):
        y = top + plot_height - plot_height * tick / y_max
        parts.append(f'<line x1="{left}" x2="{left + plot_width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{tick:,}</text>')
    x_step = plot_width / max(len(days) - 1, 1)
    for n, day in enumerate(days):
        parts.append(
            f'<text x="{left + n * x_step:.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="#555">'
            f'{escape(f"{day:%a} {day.day}")}</text>'
        )
    for index, (name, values) in enumerate(series):
        colour = series_colour(index)
        points = [
            (left + n * x_step, top + plot_height - plot_height * value / y_max) for n, value in enumerate(values)
        ]
        parts.append(
            f'<polyline data-series="{escape(name)}" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>'
        )
        for (x, y), day, value in zip(points, days, values, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                f'<title>{escape(f"{name}, {day:%a %d %b}: {value:,} mentions")}</title></circle>'
            )
        legend_y = top + 10 + index * 20
        parts.append(
            f'<line x1="{width - right + 16}" x2="{width - right + 36}" y1="{legend_y}" y2="{legend_y}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<text x="{width - right + 42}" y="{legend_y + 4}" fill="#222">{escape(_shorten(name, 18))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def share_of_voice_chart(
    brands: Sequence[str], metrics: Sequence[tuple[str, Sequence[float | None]]]
) -> Markup:
    """One 100% bar per share-of-voice measure, split by brand.

    Args:
        brands: the brands and competitors, in legend order.
        metrics: (label, each brand's share or None) per bar.
    """
    width, left, right, bar_height, gap, top = 760, 150, 20, 26, 14, 10
    legend_rows = math.ceil(len(brands) / 4)
    height = top + len(metrics) * (bar_height + gap) + 10 + legend_rows * 20
    plot_width = width - left - right
    parts = [_svg_open(width, height, "share-of-voice", "Share of voice by volume, reach and unique authors")]
    for row, (label, shares) in enumerate(metrics):
        y = top + row * (bar_height + gap)
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_height / 2 + 4:.1f}" text-anchor="end" fill="#222">'
            f"{escape(label)}</text>"
        )
        x = float(left)
        for index, (brand, share) in enumerate(zip(brands, shares, strict=True)):
            if not share:
                continue
            segment = plot_width * share
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{segment:.1f}" height="{bar_height}" fill="{series_colour(index)}">'
                f'<title>{escape(f"{brand}: {share:.1%} {label.lower()}")}</title></rect>'
            )
            if segment >= 38:
                parts.append(
                    f'<text x="{x + segment / 2:.1f}" y="{y + bar_height / 2 + 4:.1f}" text-anchor="middle" '
                    f'fill="{_label_colour(series_colour(index))}">{share:.0%}</text>'
                )
            x += segment
    parts.append(_legend([(brand, series_colour(n)) for n, brand in enumerate(brands)], left,
                         top + len(metrics) * (bar_height + gap) + 6, plot_width))
    parts.append("</svg>")
    return Markup("".join(parts))


def sentiment_chart(rows: Sequence[tuple[str, int, int, int]]) -> Markup:
    """One 100% bar per brand: its scored mentions split into negative, neutral and positive.

    Args:
        rows: (brand, negative, neutral, positive) per bar.
    """
    width, left, right, bar_height, gap, top = 760, 150, 20, 22, 10, 10
    height = top + len(rows) * (bar_height + gap) + 30
    plot_width = width - left - right
    parts = [_svg_open(width, height, "sentiment", "Sentiment split per brand")]
    for row, (brand, *counts) in enumerate(rows):
        y = top + row * (bar_height + gap)
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_height / 2 + 4:.1f}" text-anchor="end" fill="#222">'
            f'{escape(_shorten(brand, 20))}</text>'
        )
        total = sum(counts)
        if not total:
            parts.append(f'<text x="{left}" y="{y + bar_height / 2 + 4:.1f}" fill="#777">no scored mentions</text>')
            continue
        x = float(left)
        for (label, colour), count in zip(SENTIMENT_COLOURS.items(), counts, strict=True):
            if not count:
                continue
            segment = plot_width * count / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{segment:.1f}" height="{bar_height}" fill="{colour}">'
                f'<title>{escape(f"{brand}: {count:,} {label} ({count / total:.1%})")}</title></rect>'
            )
            if segment >= 38:
                parts.append(
                    f'<text x="{x + segment / 2:.1f}" y="{y + bar_height / 2 + 4:.1f}" text-anchor="middle" '
                    f'fill="{_label_colour(colour)}">{count / total:.0%}</text>'
                )
            x += segment
    parts.append(_legend(list(SENTIMENT_COLOURS.items()), left, top + len(rows) * (bar_height + gap) + 4, plot_width))
    parts.append("</svg>")
    return Markup("".join(parts))


def _svg_open(width: int, height: int, name: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{name}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" {_FONT}>'
        f"<title>{escape(label)}</title>"
    )


def _legend(entries: Sequence[tuple[str, str]], left: int, top: float, width: int) -> str:
    per_row = 4
    column = width / per_row
    parts = []
    for n, (name, colour) in enumerate(entries):
        x = left + (n % per_row) * column
        y = top + (n // per_row) * 20
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 18:.1f}" y="{y + 10:.1f}" fill="#222">{escape(_shorten(name, 22))}</text>'
        )
    return "".join(parts)


def _axis(peak: int) -> tuple[int, int]:
    """A round tick step and the axis maximum (a multiple of it) for values up to `peak`."""
    if peak <= 4:
        return 1, max(peak, 1)
    rough = peak / 4
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(multiple * magnitude for multiple in (1, 2, 2.5, 5, 10) if multiple * magnitude >= rough)
    step = max(int(step), 1)
    return step, step * math.ceil(peak / step)


def _label_colour(background: str) -> str:
    """Black or white, whichever reads better on the background colour."""
    red, green, blue = (int(background[n:n + 2], 16) for n in (1, 3, 5))
    return "#000" if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else "#fff"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
