"""The public transparency report: no count under the threshold is shown, and no suppressed
count can be worked out from the row and column totals (attacked with a linear program of the
test's own, on tables of many shapes)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.optimize import linprog
from test_scorecards import clock, drive  # noqa: F401 - the fixture

from tracker.scorecards.transparency import ALL, TOTAL, Grid, suppress

THRESHOLD = 10


def attack(grid: Grid, hidden: set) -> dict:
    """For each hidden cell, the least and greatest value any table agreeing with everything
    published could give it (hidden cells are at least 1: zeros are published)."""
    cells = sorted(grid.values)
    at = {cell: i for i, cell in enumerate(cells)}
    rows, columns = grid.rows[:-1], grid.columns[:-1]
    equations = []
    for row in grid.rows:
        line = np.zeros(len(cells))
        for column in columns:
            line[at[(row, column)]] = 1
        line[at[(row, TOTAL)]] = -1
        equations.append(line)
    for column in grid.columns:
        line = np.zeros(len(cells))
        for row in rows:
            line[at[(row, column)]] = 1
        line[at[(ALL, column)]] = -1
        equations.append(line)
    bounds = [(1, None) if c in hidden else (grid.values[c], grid.values[c]) for c in cells]
    found = {}
    for cell in hidden:
        goal = np.zeros(len(cells))
        goal[at[cell]] = 1
        low = linprog(goal, A_eq=equations, b_eq=np.zeros(len(equations)), bounds=bounds)
        high = linprog(-goal, A_eq=equations, b_eq=np.zeros(len(equations)), bounds=bounds)
        assert low.status == 0
        found[cell] = (low.fun, -high.fun if high.status == 0 else float("inf"))
    return found


def random_grid(seed: int) -> Grid:
    chance = random.Random(seed)
    rows = [f"platform-{i}" for i in range(chance.randint(1, 7))]
    columns = [f"2027-Q{q}" for q in range(1, chance.choice([2, 3, 5]))]
    small = chance.random() < 0.5
    values = {
        (row, column): chance.choice([0, 1, 2, 3, 9] if small else [0, 1, 4, 9, 10, 25, 300])
        for row in rows
        for column in columns
    }
    return Grid.of(rows, columns, values)


@pytest.mark.parametrize("seed", range(60))
def test_no_suppressed_count_can_be_worked_out_from_the_totals(seed):
    grid = random_grid(seed)
    hidden = suppress(grid, THRESHOLD)
    shown = {cell: value for cell, value in grid.values.items() if cell not in hidden}
    # Nothing under the threshold is shown, but zeros.
    assert all(value == 0 or value >= THRESHOLD for value in shown.values())
    for cell, (low, high) in attack(grid, hidden).items():
        assert high - low >= 1, (seed, cell, grid.values[cell], low, high)


def test_a_one_in_a_table_of_large_counts_is_hidden_with_its_partners():
    rows, columns = ["x", "telegram", "reddit"], ["2027-Q1", "2027-Q2"]
    values = {(r, c): 40 for r in rows for c in columns}
    values[("telegram", "2027-Q2")] = 1
    grid = Grid.of(rows, columns, values)
    hidden = suppress(grid, THRESHOLD)
    assert ("telegram", "2027-Q2") in hidden and len(hidden) >= 4
    assert all(high - low >= 1 for low, high in attack(grid, hidden).values())


def test_the_report_of_the_driven_reports_shows_no_small_count(client, people, db, clock):  # noqa: F811
    drive(client, people, db, clock)
    answer = client.get(
        "/api/v1/scorecards/transparency",
        params={"year": 2027, "threshold": 3},
        headers=people.auth("dashboard"),
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    # Every quarter but the first is empty (under 3): the year is one column.
    assert report["columns"] == ["year"]
    filed = next(table for table in report["tables"] if table["measure"] == "filed")
    assert [(row["platform"], row["values"], row["total"]) for row in filed["rows"]] == [
        ("x", [5], 5),
        # facebook (2 reports) is folded into "other platforms", which is under 3: left out.
    ]
    for table in report["tables"]:
        for row in table["rows"]:
            for value in [*row["values"], row["total"]]:
                assert value is None or value == 0 or value >= 3
    assert report["removal_rate"] == {}  # x's 2 removals are under the threshold
    assert report["median_seconds_to_removal"] == {}
    lower = client.get(
        "/api/v1/scorecards/transparency",
        params={"year": 2027, "threshold": 2},
        headers=people.auth("dashboard"),
    ).json()
    # At 2, Facebook has a row of its own, and both platforms' medians and rates are shown.
    assert [row["platform"] for row in lower["tables"][0]["rows"]] == ["facebook", "x"]
    assert lower["median_seconds_to_removal"] == {"facebook": 3 * 3600, "x": 26 * 3600}
    assert lower["removal_rate"] == {"facebook": 1.0, "x": 0.4}
    csv_answer = client.get(
        "/api/v1/scorecards/transparency",
        params={"year": 2027, "threshold": 3, "format": "csv"},
        headers=people.auth("dashboard"),
    )
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "filed,x,year,5,0" in csv_answer.text
    assert (
        client.get(
            "/api/v1/scorecards/transparency", params={"year": 2027}, headers=people.auth("alice")
        ).status_code
        == 403
    )
    assert client.get(
        "/api/v1/scorecards/transparency", params={"year": 1999}, headers=people.auth("dashboard")
    ).json()["detail"][0]["loc"] == ["query", "year"]
