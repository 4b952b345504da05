"""Charts drawn by matplotlib (the optional extra ``sparkify[charts]``): PNG files or inline SVG.

A :class:`Series` says what to draw (labels, values, and the :data:`Kind` of
chart that fits them); :func:`figure` draws it; :func:`save_png` and
:func:`inline_svg` write it. The module knows nothing of the warehouse:
:mod:`sparkify.analytics` turns its answers into series.

matplotlib is imported inside the functions, never at import time, so that
everything else works without it; :func:`require_matplotlib` says how to
install it. Figures are made without pyplot: no global state, no GUI backend.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sparkify.errors import MissingExtraError, OutputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "BAR_COLOUR",
    "CHARTS_HINT",
    "Kind",
    "Series",
    "figure",
    "inline_svg",
    "require_matplotlib",
    "save_png",
]

CHARTS_HINT = "pip install 'sparkify[charts]' (or, in a checkout, uv sync --extra charts)"

#: ``bars``: a ranking, horizontal bars, first on top; ``columns``: categories in
#: their own order along the x axis (hours, weekdays); ``share``: parts of a whole (a donut).
Kind = Literal["bars", "columns", "share"]

#: The colour of every bar and column (the browser test looks for it).
BAR_COLOUR = "#2f6db5"
#: The colours of a share's parts, in order.
SHARE_COLOURS = ("#2f6db5", "#f2a541", "#8fb996", "#c96480", "#7d7d7d")
TEXT_COLOUR = "#333333"
GRID_COLOUR = "#dddddd"

#: Labels longer than this are cut, with an ellipsis.
MAX_LABEL = 42

#: The figure's width in inches by layout: a full row of the report, or half of one.
WIDE, HALF = 10.6, 5.2


@dataclass(frozen=True)
class Series:
    """One chart's data.

    Attributes:
        name: A short identifier (the question's name); file names and SVG ids use it.
        title: What the chart shows, in a line.
        kind: How to draw it (see :data:`Kind`).
        labels: One label per value, in drawing order.
        values: The values.
        value_name: What the values are (``plays``), for the axis.
    """

    name: str
    title: str
    kind: Kind
    labels: Sequence[str]
    values: Sequence[float]
    value_name: str


def require_matplotlib(feature: str = "charts") -> None:
    """Raise :class:`MissingExtraError` (saying how to install it) unless matplotlib imports."""
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
        from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        raise MissingExtraError(feature, "matplotlib", CHARTS_HINT) from None


def _plain(label: str) -> str:
    """A label matplotlib shows as it is: cut to :data:`MAX_LABEL`, ``$`` not read as math."""
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1].rstrip() + "…"
    return label.replace("$", r"\$")


def figure(series: Series, *, width: float | None = None) -> Figure:
    """Draw a series as the chart its kind asks for.

    Args:
        series: What to draw.
        width: Figure width in inches (default: :data:`WIDE` for columns, else :data:`HALF`).

    Returns:
        A matplotlib ``Figure`` (no pyplot state).

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    if series.kind == "share":
        fig = Figure(figsize=(width or HALF, 3.0), layout="constrained")
        _share(fig, series)
    elif series.kind == "columns":
        fig = Figure(figsize=(width or WIDE, 3.0), layout="constrained")
        _columns(fig, series)
    else:
        height = 1.0 + 0.32 * max(len(series.values), 1)
        fig = Figure(figsize=(width or HALF, height), layout="constrained")
        _bars(fig, series)
    return fig


def _style(ax: Any, value_axis: str) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID_COLOUR)
    ax.tick_params(colors=TEXT_COLOUR, labelsize=9, length=0)
    axis = ax.yaxis if value_axis == "y" else ax.xaxis
    axis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.grid(axis=value_axis, color=GRID_COLOUR, linewidth=0.8)
    ax.set_axisbelow(True)


def _columns(fig: Figure, series: Series) -> None:
    ax = fig.add_subplot()
    positions = range(len(series.values))
    ax.bar(positions, series.values, color=BAR_COLOUR, width=0.75)
    ax.set_xticks(positions, [_plain(label) for label in series.labels])
    ax.set_xlim(-0.6, len(series.values) - 0.4)
    ax.set_ylabel(series.value_name, color=TEXT_COLOUR, fontsize=9)
    _style(ax, "y")


def _bars(fig: Figure, series: Series) -> None:
    ax = fig.add_subplot()
    positions = range(len(series.values))
    ax.barh(positions, series.values, color=BAR_COLOUR, height=0.7)
    ax.set_yticks(positions, [_plain(label) for label in series.labels])
    ax.invert_yaxis()  # the first row on top
    ax.set_xlabel(series.value_name, color=TEXT_COLOUR, fontsize=9)
    if not series.values:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no plays yet", ha="center", va="center", transform=ax.transAxes)
    _style(ax, "x")


def _share(fig: Figure, series: Series) -> None:
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    total = sum(series.values)
    if total <= 0:
        ax.axis("off")
        ax.text(0.5, 0.5, "no plays yet", ha="center", va="center", transform=ax.transAxes)
        return
    colours = [SHARE_COLOURS[i % len(SHARE_COLOURS)] for i in range(len(series.values))]
    ax.pie(
        series.values,
        colors=colours,
        startangle=90,
        counterclock=False,
        wedgeprops={"width": 0.38, "edgecolor": "white", "linewidth": 2},
    )
    centre = f"{total:,.0f}\n{series.value_name}"
    ax.text(0, 0, centre, ha="center", va="center", fontsize=10, color=TEXT_COLOUR)
    legend = [
        f"{_plain(label)}  {value / total:.1%} ({value:,.0f})"
        for label, value in zip(series.labels, series.values, strict=True)
    ]
    # "outside": constrained layout makes room for the legend beside the donut.
    fig.legend(
        legend, loc="outside right center", frameon=False, fontsize=10, labelcolor=TEXT_COLOUR
    )


def save_png(fig: Figure, path: Path) -> None:
    """Write a figure as a PNG file.

    Raises:
        OutputError: the file cannot be written.
    """
    try:
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise OutputError(str(path), exc.strerror or type(exc).__name__) from None


#: What matplotlib writes before the ``<svg`` element (the XML prolog and DOCTYPE).
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
#: The root element's fixed size, dropped so that CSS sizes it (its viewBox stays).
_ROOT_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')
#: Where an SVG names or refers to an id: ``id="x"``, ``href="#x"``, ``url(#x)``.
_ID_REFERENCE = re.compile(r'(\bid="|\bhref="#|url\(#)')


def inline_svg(fig: Figure, name: str, label: str) -> str:
    """A figure as an ``<svg>`` element to put in an HTML page, with no file beside it.

    Text stays text (``svg.fonttype`` ``none``: no glyphs or font files embedded),
    XML-escaped by matplotlib; the prolog and DOCTYPE are dropped; every id is
    prefixed with ``name`` so that several charts can share one page; the
    fixed width and height give way to the viewBox (CSS sizes the chart).

    Args:
        fig: The figure.
        name: Unique on the page: the id prefix (letters, digits, ``-`` and ``_``).
        label: What the chart shows (the ``aria-label``; escaped here).

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    import html

    import matplotlib

    out = io.StringIO()
    # A fixed salt makes the clip-path ids (hashes) the same on every run.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"sparkify-{name}"}):
        fig.savefig(out, format="svg", metadata={k: None for k in _SVG_METADATA})
    svg = _PROLOG.sub("", out.getvalue(), count=1)
    root_end = svg.index(">")
    root = _ROOT_SIZE.sub("", svg[:root_end])
    attributes = f' role="img" aria-label="{html.escape(label, quote=True)}" class="chart"'
    svg = root + attributes + svg[root_end:]
    return _ID_REFERENCE.sub(lambda m: f"{m.group(1)}{name}-", svg).strip()


#: The metadata keys matplotlib's SVG writer fills in unless told None (no RDF block then).
_SVG_METADATA = ("Date", "Creator", "Format", "Type")
