"""The report in a real browser: Debian's Chromium, headless, with the network off.

A demo warehouse (``sparkify demo``) with hostile text put into it, a report
made from it, the page loaded through the DevTools protocol (tests/browser.py):
no console message, no request but the file itself, no script run, and a
screenshot whose pixels show the charts (24 hour columns, 7 weekday columns, a
two-part donut, the ranking bars). Without Chromium the test fails, saying how
to install it: it never skips.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sparkify import charts
from sparkify.cli import main
from sparkify.db import engine_for_url
from tests import browser

pytestmark = pytest.mark.e2e

#: Put into the warehouse: were it read as HTML, it would close the chart and run a script.
HOSTILE = '</svg><script>window.hacked = 1</script><img src=x onerror="window.hacked = 2"> & Co'
CHARTS = ("hours", "weekdays", "levels", "songs", "artists")


def rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def matches(pixels: np.ndarray, colour: str, tolerance: int = 8) -> np.ndarray:
    """Per pixel (height x width), whether it is ``colour`` give or take ``tolerance``."""
    difference = np.abs(pixels[:, :, :3].astype(int) - np.array(rgb(colour)))
    found: np.ndarray = (difference <= tolerance).all(axis=2)
    return found


def runs_on_the_fullest_row(pixels: np.ndarray, colour: str) -> int:
    """How many separate stretches of ``colour`` cross the row that holds the most of it."""
    hits = matches(pixels, colour)
    row = hits[int(hits.sum(axis=1).argmax())].astype(int)
    return int((np.diff(np.concatenate(([0], row))) == 1).sum())


def share(pixels: np.ndarray, colour: str) -> float:
    """The fraction of the pixels that are ``colour``."""
    return float(matches(pixels, colour).mean())


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of a demo warehouse whose top song, a user and a location hold hostile text."""
    folder = tmp_path_factory.mktemp("browser")
    demo = CliRunner().invoke(
        main, ["demo", "--dir", str(folder / "demo"), "--events", "3000", "--songs", "300"]
    )
    assert demo.exit_code == 0, demo.output
    url = f"duckdb:///{folder / 'demo' / 'sparkify.duckdb'}"
    engine = engine_for_url(url)
    with engine.begin() as conn:
        top = conn.exec_driver_sql(
            "SELECT song_id FROM songplays WHERE song_id IS NOT NULL "
            "GROUP BY song_id ORDER BY count(*) DESC, song_id LIMIT 1"
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE songs SET title = :t WHERE song_id = :s"), {"t": HOSTILE, "s": top}
        )
        conn.execute(sa.text("UPDATE users SET first_name = :t"), {"t": HOSTILE})
        conn.execute(
            sa.text("UPDATE songplays SET location = :t WHERE user_id = 1"), {"t": HOSTILE}
        )
    engine.dispose()
    out = folder / "report.html"
    made = CliRunner().invoke(main, ["report", str(out), "--database-url", url])
    assert made.exit_code == 0, made.output
    return out


def test_chromium_renders_the_report_offline_with_no_console_message_and_shows_the_charts(
    report_page: Path, tmp_path: Path
) -> None:
    from PIL import Image  # Pillow comes with matplotlib (the charts extra)

    chromium = browser.chromium()
    if chromium is None:
        pytest.fail(browser.MISSING, pytrace=False)

    selectors = tuple(f"#chart-{name} svg" for name in CHARTS)
    rendered = browser.render(
        report_page,
        executable=chromium,
        boxes=selectors,
        values={
            "scripts": "document.scripts.length",
            "hacked": "typeof window.hacked",
            "headings": "[...document.querySelectorAll('h2')].map(h => h.textContent)",
            "hostile_shown": f"document.body.textContent.split({HOSTILE!r}).length - 1",
            "svgs": "document.querySelectorAll('figure > svg').length",
        },
    )
    shot = tmp_path / "report.png"
    shot.write_bytes(rendered.png)
    where = f"(screenshot: {shot})"

    assert rendered.console == [], where
    assert rendered.requests == [report_page.resolve().as_uri()], where
    assert rendered.values["scripts"] == 0 and rendered.values["hacked"] == "undefined"
    assert rendered.values["headings"] == [
        "Plays",
        "Users, locations, browsers",
        "Data quality",
        "Table counts",
        "Recent load runs",
    ]
    # The song chart's label, the figures under it, the users and locations tables: as text.
    assert rendered.values["hostile_shown"] >= 3
    assert rendered.values["svgs"] == len(CHARTS)

    image = np.asarray(Image.open(io.BytesIO(rendered.png)).convert("RGB"))
    assert image.shape[1] == browser.WIDTH and image.shape[0] > 2000, where
    crops = {}
    for name, selector in zip(CHARTS, selectors, strict=True):
        x, y, width, height = (int(v) for v in rendered.boxes[selector])
        assert width > 300 and height > 150, (name, rendered.boxes[selector])
        crops[name] = image[y : y + height, x : x + width]
    bar = charts.BAR_COLOUR
    assert share(crops["hours"], bar) > 0.15, where
    assert runs_on_the_fullest_row(crops["hours"], bar) == 24, where
    assert runs_on_the_fullest_row(crops["weekdays"], bar) == 7, where
    for colour in charts.SHARE_COLOURS[:2]:
        assert share(crops["levels"], colour) > 0.03, (colour, where)
    for name in ("songs", "artists"):
        assert share(crops[name], bar) > 0.05, (name, where)
    # Outside the charts (the page's background, the tables) there is no bar colour.
    assert share(image[:100], bar) == 0, where
