"""The dashboard's chart geometry (values to view-box coordinates) and how it writes figures;
pure functions, no database."""

from __future__ import annotations

import pytest

from tracker.console.charts import (
    Plot,
    count_scale,
    grouped_bars,
    horizontal_bars,
    share_line,
    time_scale,
)
from tracker.console.pages.dashboard_words import FigureWords

PLOT = Plot()  # 560 x 240; drawing area x 56..556 (500 wide), y 28..208 (180 high)


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [
        (0, (1, 1)),
        (-3, (1, 1)),
        (1, (1, 1)),
        (3, (3, 1)),
        (7, (8, 2)),
        (47, (50, 10)),
        (1000, (1000, 200)),
        (1001, (1500, 500)),
    ],
)
def test_count_axes_end_on_a_round_step(maximum: float, expected: tuple[float, float]) -> None:
    assert count_scale(maximum) == expected


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [
        (0, (900, 900)),
        (900, (900, 900)),
        (26 * 3600, (36 * 3600, 12 * 3600)),
        (3 * 86400, (3 * 86400, 86400)),
        (10 * 365 * 86400, (12 * 365 * 86400, 3 * 365 * 86400)),
    ],
)
def test_time_axes_count_in_readable_steps(maximum: float, expected: tuple[float, float]) -> None:
    top, step = time_scale(maximum)
    assert (top, step) == expected
    assert top >= maximum and top / step <= 4


def test_bars_put_each_value_at_its_height_in_its_period() -> None:
    chart = grouped_bars([[2, 0], [1, 0]])
    assert chart.maximum == 2
    assert [(tick.value, tick.position) for tick in chart.ticks] == [(0, 208), (1, 118), (2, 28)]
    first, second = chart.slots
    assert (first.x, second.x) == (181, 431)  # the centres of two 250-wide periods
    filed, removed = first.bars
    assert (filed.x, filed.y, filed.width, filed.height) == (93.5, 28, 87.5, 180)
    assert (removed.x, removed.y, removed.width, removed.height) == (181, 118, 87.5, 90)
    assert (filed.series, removed.series) == (0, 1)
    assert [(bar.y, bar.height) for bar in second.bars] == [(208, 0), (208, 0)]


def test_bars_of_nothing_and_of_zeros_draw_an_axis_up_to_one() -> None:
    empty = grouped_bars([[], []])
    assert empty.slots == () and empty.maximum == 1
    assert [tick.value for tick in empty.ticks] == [0, 1]
    assert grouped_bars([]).slots == ()
    zeros = grouped_bars([[0, 0, 0], [0, 0, 0]])
    assert zeros.maximum == 1
    assert {(bar.y, bar.height) for slot in zeros.slots for bar in slot.bars} == {(208, 0)}


def test_one_period_fills_the_width() -> None:
    chart = grouped_bars([[5], [5]])
    [slot] = chart.slots
    assert slot.x == 306 and slot.labelled
    assert [bar.x for bar in slot.bars] == [131, 306]
    assert [bar.height for bar in slot.bars] == [180, 180]


def test_a_long_line_of_periods_labels_at_most_eight() -> None:
    chart = grouped_bars([[1] * 14, [0] * 14])
    assert [slot.index for slot in chart.slots if slot.labelled] == [0, 2, 4, 6, 8, 10, 12]
    days = grouped_bars([[1] * 91])
    assert sum(slot.labelled for slot in days.slots) <= 8


def test_series_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one value per period"):
        grouped_bars([[1, 2], [1]])


def test_a_share_line_breaks_where_a_period_has_no_share() -> None:
    chart = share_line([1.0, None, 0.0, 0.5])
    assert [(point.index, point.x, point.y) for point in chart.points] == [
        (0, 118.5, 28),
        (2, 368.5, 208),
        (3, 493.5, 118),
    ]
    assert chart.lines == ("368.5,208 493.5,118",)  # the first point stands alone
    assert [tick.value for tick in chart.ticks] == [0, 0.25, 0.5, 0.75, 1]
    assert len(chart.slots) == 4


def test_a_share_line_of_one_point_zeros_or_nothing() -> None:
    one = share_line([0.5])
    assert [(point.x, point.y) for point in one.points] == [(306, 118)] and one.lines == ()
    zeros = share_line([0.0, 0.0])
    assert zeros.lines == ("181,208 431,208",)
    nothing = share_line([None, None])
    assert nothing.points == () and nothing.lines == () and len(nothing.slots) == 2
    assert share_line([]).slots == ()
    clamped = share_line([1.7, -1])
    assert [(point.value, point.y) for point in clamped.points] == [(1, 28), (0, 208)]


def test_horizontal_bars_grow_the_view_box_per_row() -> None:
    chart = horizontal_bars([3600, None, 7200])
    assert chart.plot.height == 8 + 3 * 40 + 32
    assert chart.maximum == 7200
    assert [tick.value for tick in chart.ticks] == [0, 1800, 3600, 5400, 7200]
    assert [tick.position for tick in chart.ticks] == [12, 125, 238, 351, 464]
    assert [(row.width, row.value) for row in chart.rows] == [(226, 3600), (0, None), (452, 7200)]
    assert [row.label_y for row in chart.rows] == [22, 62, 102]
    assert [row.y for row in chart.rows] == [28, 68, 108]


def test_horizontal_bars_of_nothing_or_of_no_removals() -> None:
    empty = horizontal_bars([])
    assert empty.rows == () and empty.plot.height == 40
    assert [tick.value for tick in empty.ticks] == [0, 900]
    none_removed = horizontal_bars([None, None])
    assert [row.width for row in none_removed.rows] == [0, 0]


# -- figures in words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "english", "hindi"),
    [
        (None, "—", "—"),
        (0, "0 min", "0 मिनट"),
        (900, "15 min", "15 मिनट"),
        (3600, "1 h", "1 घंटे"),
        (5400, "1 h 30 min", "1 घंटे 30 मिनट"),
        (26 * 3600, "26 h", "26 घंटे"),
        (48 * 3600, "48 h", "48 घंटे"),
        (54 * 3600, "2 d 6 h", "2 दिन 6 घंटे"),
        (3 * 86400, "3 d", "3 दिन"),
    ],
)
def test_times_read_in_their_largest_unit(seconds: float | None, english: str, hindi: str) -> None:
    assert FigureWords("en").span(seconds) == english
    assert FigureWords("hi").span(seconds) == hindi


def test_counts_and_shares_follow_the_language() -> None:
    english, hindi = FigureWords("en"), FigureWords("hi")
    assert english.share(0.6667) == "67%" and english.share(None) == "—"
    assert english.count(123456) == "123,456" and hindi.count(123456) == "1,23,456"
    assert hindi.period("week") == "सप्ताह" and english.dimension("legal_basis") == "Legal basis"
    assert english.value("rung", "grievance_officer") == "The platform's grievance officer"
    assert english.value("channel", "webform") == "web form (you submit it)"
    assert english.value("platform", "") == "—"
