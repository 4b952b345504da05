"""The load ledger's selection: which objects a run stages."""

from __future__ import annotations

from sparkify import ledger
from sparkify.models import staging_events, staging_songs
from sparkify.sources import Listing, Plan, SourceObject, TableSources

EVENTS = [
    SourceObject(f"/logs/2018-11-{d:02d}-events.json", 100 + d, f"{100 + d}-1") for d in (1, 2)
]
SONGS = [SourceObject(f"/songs/TR{n}.json", 10 + n, f"{10 + n}-1") for n in range(3)]


def plan() -> Plan:
    return Plan(
        events=TableSources(staging_events, "/logs", Listing(EVENTS)),
        songs=TableSources(staging_songs, "/songs", Listing(SONGS)),
        jsonpath_uri="/log_json_path.json",
        jsonpaths=(),
    )


def selected(selection: ledger.Selection) -> dict[str, list[SourceObject]]:
    return {s.table.name: list(s.objects) for s in selection.plan.tables}


def test_an_empty_ledger_selects_every_object_as_new_as_a_walk_of_the_plan_does() -> None:
    empty = ledger.select_new(plan(), {})
    # An entry of no planned object: the plan is walked, and selects the same.
    walked = ledger.select_new(plan(), {"/gone.json": (1, "1-1")})

    assert (
        selected(empty)
        == selected(walked)
        == {
            "staging_events": EVENTS,
            "staging_songs": SONGS,
        }
    )
    for selection in (empty, walked):
        assert selection.new == {"staging_events": 2, "staging_songs": 3}
        assert selection.changed == selection.skipped == {"staging_events": 0, "staging_songs": 0}


def test_objects_loaded_as_they_are_are_skipped_and_changed_ones_selected() -> None:
    known = {
        EVENTS[0].uri: (EVENTS[0].size, EVENTS[0].etag),
        SONGS[1].uri: (SONGS[1].size, "other-etag"),
    }
    selection = ledger.select_new(plan(), known)

    assert selected(selection) == {"staging_events": EVENTS[1:], "staging_songs": SONGS}
    assert selection.new == {"staging_events": 1, "staging_songs": 2}
    assert selection.changed == {"staging_events": 0, "staging_songs": 1}
    assert selection.skipped == {"staging_events": 1, "staging_songs": 0}
