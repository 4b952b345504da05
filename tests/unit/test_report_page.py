"""The report page from hand-made data: self-contained, every chart inline SVG, all text escaped.

The charts' shapes (every hour 0-23, every weekday, a share) come from
``analytics.series``, tested here too. matplotlib is the ``charts`` extra, which
the test environment installs (``uv sync --all-extras``).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from html.parser import HTMLParser
from typing import Any

import pytest

from sparkify import analytics, charts, report_page
from sparkify.analytics import Answer
from sparkify.errors import MissingExtraError
from sparkify.quality import CheckResult
from sparkify.report import ReportData

pytestmark = pytest.mark.unit

#: Text a warehouse may hold that HTML must never read as markup.
HOSTILE = "<script>alert('x')</script> & \"quoted\" </svg><b>bold</b>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot; &lt;/svg&gt;"


def answers(title: str = "Song One", name: str = "Ada") -> dict[str, Answer]:
    rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {
        "songs": (["title", "artist", "plays"], [(title, "Alpha", 3), ("$5 and $10", "Beta", 2)]),
        "artists": (["artist", "plays"], [("Alpha", 4), (HOSTILE, 3)]),
        "hours": (["hour", "plays"], [(0, 1), (9, 2), (23, 5)]),
        "weekdays": (["weekday", "day", "plays"], [(0, "Sunday", 2), (4, "Thursday", 6)]),
        "levels": (["level", "plays", "share"], [("paid", 6, 0.75), ("free", 2, 0.25)]),
        "users": (["user_id", "first_name", "last_name", "plays"], [(1032, name, "L", 4)]),
        "locations": (["location", "plays"], [(HOSTILE, 4)]),
        "user_agents": (["family", "plays"], [("Chrome", 5)]),
    }
    return {
        q: Answer(q, analytics.QUESTIONS[q].description, columns, found)
        for q, (columns, found) in rows.items()
    }


def data(**changes: Any) -> ReportData:
    fields: dict[str, Any] = {
        "source": "duckdb:///w.duckdb",
        "generated_at": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
        "answers": answers(),
        "checks": [
            CheckResult("unique.users.user_id", True, "users (user_id) is unique", 0),
            CheckResult("not_empty.songs", False, HOSTILE, 1),
        ],
        "counts": {"songplays": 1234, "users": 3, "songs": 4, "artists": 3},
        "version": "0.1.0",
    }
    fields.update(changes)
    return ReportData(**fields)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    tags.close()
    return tags


def test_the_page_fetches_nothing_no_url_no_script_no_font() -> None:
    page = report_page.page(data())
    tags = parsed(page)

    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.I)
    assert "@import" not in page and "@font-face" not in page
    assert [tag for tag, _ in tags.tags if tag in ("script", "link", "img", "iframe")] == []
    linked = [v for _, a in tags.tags for k, v in a.items() if k.endswith(("href", "src"))]
    assert all(str(v).startswith("#") for v in linked)  # only ids in the page, if any
    assert re.findall(r"url\(([^)]*)\)", page)  # the charts' clip paths ...
    assert all(target.startswith("#") for target in re.findall(r"url\(([^)]*)\)", page))


def test_a_content_security_policy_forbids_every_fetch_and_script() -> None:
    tags = parsed(report_page.page(data()))
    policies = [a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv")]
    assert policies == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_every_chart_is_an_inline_svg_without_an_xml_prolog() -> None:
    page = report_page.page(data())
    figures = re.findall(
        r'<figure class="(?:wide|half)" id="chart-(\w+)"><h3>[^<]*</h3><svg ', page
    )

    assert figures == ["hours", "weekdays", "levels", "songs", "artists"]
    assert page.count("<svg ") == 5
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert page.startswith("<!DOCTYPE html>")


def test_the_rest_of_the_questions_are_tables() -> None:
    page = report_page.page(data())
    for name in report_page.TABULATED:
        assert re.search(
            rf'<figure id="table-{name}"><h3>[^<]+</h3><div class="boxed"><table>', page
        )


def test_ids_are_unique_across_the_charts() -> None:
    tags = parsed(report_page.page(data()))
    ids = [a["id"] for _, a in tags.tags if a.get("id")]

    assert len(ids) == len(set(ids)) > 20


def test_text_from_the_warehouse_is_escaped_in_tables_charts_and_checks() -> None:
    page = report_page.page(data(answers=answers(title=HOSTILE, name=HOSTILE)))
    tags = parsed(page)

    assert "<script" not in page and "<b>" not in page
    assert page.count(ESCAPED) >= 4  # tables: users, locations, the figures; the check's detail
    # The chart labels too (matplotlib's SVG writer escapes them): the parser reads them back.
    text = "".join(tags.text)
    assert text.count("<script>alert('x')</script>") >= 6


def test_a_dollar_sign_in_a_title_is_text_not_mathematics() -> None:
    page = report_page.page(data())
    assert "$5 and $10 — Beta" in "".join(parsed(page).text)


def test_the_hours_chart_has_every_hour_in_order_and_zero_where_none() -> None:
    series = analytics.series(answers()["hours"])

    assert series.kind == "columns"
    assert list(series.labels) == [str(h) for h in range(24)]
    assert series.values[0] == 1 and series.values[9] == 2 and series.values[23] == 5
    assert sum(series.values) == 8


def test_the_weekday_chart_has_every_day_in_the_questions_order() -> None:
    series = analytics.series(answers()["weekdays"])

    assert series.kind == "columns"
    assert list(series.labels) == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    assert list(series.values) == [2, 0, 0, 0, 6, 0, 0]


def test_levels_are_a_share_and_rankings_are_bars_labelled_by_their_row() -> None:
    found = answers()
    assert analytics.series(found["levels"]).kind == "share"
    songs = analytics.series(found["songs"])
    assert songs.kind == "bars"
    assert list(songs.labels) == ["Song One — Alpha", "$5 and $10 — Beta"]


def test_the_hours_chart_draws_24_columns() -> None:
    fig = charts.figure(analytics.series(answers()["hours"]))
    ax = fig.axes[0]
    assert len(ax.patches) == 24
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(h) for h in range(24)]


def test_the_checks_say_which_failed() -> None:
    page = report_page.page(data())
    assert "1 passed, 1 failed" in page
    assert '<tr class="failed"><td>not_empty.songs</td>' in page


def test_load_runs_are_a_table_newest_first_with_their_error() -> None:
    runs = [
        {
            "run_id": "r-2",
            "status": "failed",
            "started_at": dt.datetime(2024, 5, 2, 3, 4, 5),
            "finished_at": dt.datetime(2024, 5, 2, 3, 4, 9),
            "mode": "incremental",
            "backend": "duckdb",
            "objects": {"staging_events": 2},
            "staged": {"staging_events": 1500},
            "inserted": {"songplays": 0},
            "updated": {},
            "skipped": 0,
            "seconds": {"staging": 1.5, "songplays": 2.0},
            "error": HOSTILE,
        },
        {"run_id": "r-1", "status": "succeeded", "started_at": "2024-05-01", "error": None},
    ]
    page = report_page.page(data(runs=runs))
    section = page[page.index('<section id="runs">') :]

    assert report_page.NO_HISTORY not in page
    assert section.index("r-2") < section.index("r-1")
    assert ESCAPED in section and "staging_events 1,500" in section
    assert '<span class="badge fail">failed</span>' in section
    assert '<span class="badge pass">succeeded</span>' in section
    assert "3.50" in section  # the run's seconds, added up


def test_without_load_runs_the_report_says_there_is_no_history() -> None:
    page = report_page.page(data(runs=[]))
    section = page[page.index('<section id="runs">') :]
    assert "no load history in this warehouse" in section


def test_an_empty_warehouse_still_draws_every_chart() -> None:
    empty = {name: Answer(a.name, a.description, a.columns, []) for name, a in answers().items()}
    page = report_page.page(data(answers=empty))
    assert page.count("<svg ") == 5
    assert "no plays yet" in page


def test_without_matplotlib_the_page_says_how_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError) as caught:
        report_page.page(data())
    assert "pip install 'sparkify[charts]'" in str(caught.value)
    assert "uv sync --extra charts" in str(caught.value)
