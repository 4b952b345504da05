"""The report's HTML: one page, its styles inline, its charts inline SVG.

Every value from the warehouse goes through :func:`text` (``html.escape``, quotes
too) on its way into the page; chart labels are escaped by matplotlib's SVG
writer. A Content-Security-Policy in the page forbids every fetch and every
script, so a page that tried to load anything would say so in the browser's
console rather than reach the network.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparkify import analytics, charts

if TYPE_CHECKING:
    from sparkify.analytics import Answer
    from sparkify.quality import CheckResult
    from sparkify.report import ReportData

__all__ = ["CHARTED", "NO_HISTORY", "RUN_COLUMNS", "TABULATED", "page", "text"]

#: The questions drawn as charts, in page order, with the width each takes.
CHARTED: tuple[tuple[str, str], ...] = (
    ("hours", "wide"),
    ("weekdays", "half"),
    ("levels", "half"),
    ("songs", "half"),
    ("artists", "half"),
)
#: The questions shown as tables.
TABULATED: tuple[str, ...] = ("users", "locations", "user_agents")

#: The columns of a load run the runs table shows, in order, with their headings.
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("started_at", "started (UTC)"),
    ("status", "status"),
    ("mode", "mode"),
    ("backend", "backend"),
    ("objects", "objects"),
    ("staged", "staged"),
    ("inserted", "inserted"),
    ("updated", "updated"),
    ("skipped", "skipped"),
    ("seconds", "seconds"),
    ("run_id", "run id"),
    ("error", "error"),
)

NO_HISTORY = "no load history in this warehouse"

#: Nothing may be fetched or run: only the page's own styles (the <style> block,
#: the SVG's style attributes) apply.
CSP = "default-src 'none'; style-src 'unsafe-inline'"

STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --card: #ffffff;
  --page: #f5f7fa; --accent: #2f6db5; --pass: #1e7b4c; --fail: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.45 "DejaVu Sans", "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header { background: #1f2f46; color: #fff; padding: 28px 40px 24px; }
header h1 { margin: 0 0 6px; font-size: 26px; font-weight: 600; }
header .meta { margin: 0; color: #c7d2e0; font-size: 13px; word-break: break-all; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 40px 40px; }
h2 { font-size: 19px; margin: 34px 0 12px; padding-bottom: 6px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 8px; color: var(--muted); font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 14px; margin-top: 24px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; }
.card .figure { font-size: 24px; font-weight: 600; }
.card .label { color: var(--muted); font-size: 13px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.grid .wide { grid-column: 1 / -1; }
.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr));
  gap: 16px; align-items: start; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; padding: 14px 16px; min-width: 0; }
svg.chart { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); font-size: 13px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; background: #fafbfc; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
.boxed { border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; color: #fff; }
.pass { background: var(--pass); }
.fail { background: var(--fail); }
tr.failed td { background: #fdecea; }
.summary { margin: 0 0 10px; }
.empty { color: var(--muted); font-style: italic; margin: 6px 0; }
.detail { color: var(--muted); font-size: 12px; }
details { margin-top: 6px; font-size: 13px; }
summary { color: var(--muted); cursor: pointer; }
details .boxed { margin-top: 6px; }
footer { max-width: 1180px; margin: 0 auto; padding: 0 40px 30px; color: var(--muted);
  font-size: 12px; }
@media (max-width: 760px) { .grid { grid-template-columns: 1fr; }
  main, header { padding-left: 16px; padding-right: 16px; } }
"""


def text(value: object) -> str:
    """A value as HTML text: escaped (``<``, ``>``, ``&`` and both quotes); NULL as a dash."""
    if value is None:
        return "—"
    return html.escape(str(value), quote=True)


def _number(value: float | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _cell(value: Any, *, grouped: bool = True) -> str:
    """One table cell's content (escaped): numbers grouped, times to the second."""
    if isinstance(value, bool) or value is None or not grouped:
        return text(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, dt.datetime):
        return text(value.isoformat(sep=" ", timespec="seconds"))
    if isinstance(value, Mapping):
        return "<br>".join(f"{text(k)} {_cell(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value) or "—"
    return text(value)


def _table(headings: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table; a column whose every value is a number is right-aligned, grouped
    by thousands unless it is a key (``user_id``)."""
    rows = [list(row) for row in rows]
    grouped = [not (h == "id" or h.endswith("_id")) for h in headings]
    numeric = [
        bool(rows)
        and all(isinstance(row[i], int | float) and not isinstance(row[i], bool) for row in rows)
        for i in range(len(headings))
    ]
    names = [h.replace("_", " ") for h in headings]
    head = "".join(
        f'<th class="number">{text(h)}</th>' if numeric[i] else f"<th>{text(h)}</th>"
        for i, h in enumerate(names)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="number">{_cell(v, grouped=grouped[i])}</td>'
            if numeric[i]
            else f"<td>{_cell(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<div class="boxed"><table><tr>{head}</tr>{body}</table></div>'


def _chart(answer: Answer, layout: str) -> str:
    """A chart, with its figures in a table under it (folded: full titles, exact numbers)."""
    series = analytics.series(answer)
    width = charts.WIDE if layout == "wide" else charts.HALF
    svg = charts.inline_svg(charts.figure(series, width=width), answer.name, answer.description)
    figures = _table(answer.columns, answer.rows) if answer.rows else ""
    folded = f"<details><summary>the figures</summary>{figures}</details>" if figures else ""
    return (
        f'<figure class="{layout}" id="chart-{answer.name}">'
        f"<h3>{text(answer.description)}</h3>{svg}{folded}</figure>"
    )


def _answer_table(answer: Answer) -> str:
    if not answer.rows:
        body = '<p class="empty">no plays yet</p>'
    else:
        body = _table(answer.columns, answer.rows)
    return f'<figure id="table-{answer.name}"><h3>{text(answer.description)}</h3>{body}</figure>'


def _checks(results: Sequence[CheckResult]) -> str:
    failed = sum(not r.passed for r in results)
    verdict = (
        f'<span class="badge fail">{failed} failed</span>'
        if failed
        else '<span class="badge pass">all passed</span>'
    )
    rows = "".join(
        ('<tr class="failed">' if not r.passed else "<tr>")
        + f"<td>{text(r.name)}</td>"
        + (
            '<td><span class="badge pass">pass</span></td>'
            if r.passed
            else '<td><span class="badge fail">FAIL</span></td>'
        )
        + f'<td class="number">{_number(r.failing_rows)}</td><td>{text(r.detail)}</td></tr>'
        for r in results
    )
    head = '<tr><th>check</th><th>result</th><th class="number">failing rows</th><th>detail</th>'
    return (
        f'<p class="summary">{len(results) - failed} passed, {failed} failed {verdict}</p>'
        f'<div class="boxed"><table>{head}</tr>{rows}</table></div>'
    )


def _runs(runs: Sequence[Mapping[str, Any]]) -> str:
    if not runs:
        return f'<p class="empty">{text(NO_HISTORY)}</p>'
    known = [(key, heading) for key, heading in RUN_COLUMNS if any(key in r for r in runs)]
    rows = []
    for run in runs:
        cells = []
        for key, _ in known:
            value = run.get(key)
            if key == "status":
                css = "pass" if value == "succeeded" else "fail"
                cells.append(f'<td><span class="badge {css}">{text(value)}</span></td>')
            elif key == "seconds" and isinstance(value, Mapping):
                steps = ", ".join(f"{text(k)} {_cell(v)}" for k, v in value.items())
                total = sum(v for v in value.values() if isinstance(v, int | float))
                cells.append(
                    f'<td class="number">{_number(float(total))}'
                    f'<div class="detail">{steps}</div></td>'
                )
            else:
                cells.append(f"<td>{_cell(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{text(heading)}</th>" for _, heading in known)
    return f'<div class="boxed"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _cards(data: ReportData) -> str:
    failed = sum(not r.passed for r in data.checks)
    quality = (
        f'<span class="badge {"fail" if failed else "pass"}">'
        f"{len(data.checks) - failed} / {len(data.checks)}</span>"
    )
    figures = [
        (_number(data.counts.get("songplays", 0)), "plays (songplays)"),
        (_number(data.counts.get("users", 0)), "users"),
        (_number(data.counts.get("songs", 0)), "songs"),
        (_number(data.counts.get("artists", 0)), "artists"),
        (quality, "data-quality checks passed"),
    ]
    return (
        '<section class="cards">'
        + "".join(
            f'<div class="card"><div class="figure">{figure}</div>'
            f'<div class="label">{text(label)}</div></div>'
            for figure, label in figures
        )
        + "</section>"
    )


def page(data: ReportData) -> str:
    """The whole report as one HTML page.

    Raises:
        MissingExtraError: matplotlib (the ``charts`` extra) is not installed.
    """
    charts.require_matplotlib("the report's charts")
    drawn = "".join(
        _chart(data.answers[name], layout) for name, layout in CHARTED if name in data.answers
    )
    tables = "".join(
        _answer_table(data.answers[name]) for name in TABULATED if name in data.answers
    )
    counts = _table(["table", "rows"], data.counts.items())
    when = data.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sparkify warehouse report</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>Sparkify warehouse report</h1>
<p class="meta">{text(data.source)} · read {text(when)} · sparkify {text(data.version)}</p>
</header>
<main>
{_cards(data)}
<section id="plays"><h2>Plays</h2><div class="grid">{drawn}</div></section>
<section id="answers"><h2>Users, locations, browsers</h2>
<div class="tables">{tables}</div></section>
<section id="quality"><h2>Data quality</h2>{_checks(data.checks)}</section>
<section id="counts"><h2>Table counts</h2>{counts}</section>
<section id="runs"><h2>Recent load runs</h2>{_runs(data.runs)}</section>
</main>
<footer>Made by <code>sparkify report</code>: one file, nothing fetched when it is opened.</footer>
</body>
</html>
"""
