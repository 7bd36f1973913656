"""What ``bench.api_scale`` times: every listing and filter as a supervisor, an admin and a
caseworker (who sees 20 of the 2,000 cases), the summary, the case list, report detail."""

from __future__ import annotations

from datetime import date, timedelta

from bench.api_scale_seed import Seeded


def endpoints(seeded: Seeded, ids: dict[str, int]) -> list[tuple[str, str, str]]:
    """(name, caller, path) of every measured request."""
    case, mine = seeded.first_case_id + 1000, seeded.caseworker_case_id
    listing = "/api/v1/reports?limit=50"
    supervisor = [
        ("summary", "/api/v1/summary"),
        ("reports", listing),
        ("reports state=filed", f"{listing}&state=filed"),
        ("reports state=reappeared", f"{listing}&state=reappeared"),
        ("reports platform=telegram", f"{listing}&platform=telegram"),
        ("reports platform=discord (1 %)", f"{listing}&platform=discord"),
        ("reports overdue=true", f"{listing}&overdue=true"),
        ("reports overdue=false", f"{listing}&overdue=false"),
        ("reports case_id", f"{listing}&case_id={case}"),
        ("reports case_id+state=filed", f"{listing}&case_id={case}&state=filed"),
        ("reports state=removed+platform=x", f"{listing}&state=removed&platform=x"),
        (
            "reports state=reappeared+platform=discord",
            f"{listing}&state=reappeared&platform=discord",
        ),
        ("reports state=acknowledged+overdue=true", f"{listing}&state=acknowledged&overdue=true"),
        ("reports platform=reddit+overdue=true", f"{listing}&platform=reddit&overdue=true"),
        (
            "reports state=filed+platform=youtube+overdue=false",
            f"{listing}&state=filed&platform=youtube&overdue=false",
        ),
        ("reports offset=500000 (deep, by offset)", f"{listing}&offset=500000"),
        ("cases", "/api/v1/cases?limit=50"),
        ("cases status=open", "/api/v1/cases?limit=50&status=open"),
        ("cases report_state=reappeared", "/api/v1/cases?limit=50&report_state=reappeared"),
        ("cases platform=telegram", "/api/v1/cases?limit=50&platform=telegram"),
        ("cases platform=discord (1 %)", "/api/v1/cases?limit=50&platform=discord"),
        (
            "cases report_state=reappeared+platform=discord",
            "/api/v1/cases?limit=50&report_state=reappeared&platform=discord",
        ),
        ("cases overdue=true", "/api/v1/cases?limit=50&overdue=true"),
        ("cases overdue=false", "/api/v1/cases?limit=50&overdue=false"),
        ("cases jurisdiction=GB", "/api/v1/cases?limit=50&jurisdiction=GB"),
        ("cases q=BENCH-19", "/api/v1/cases?limit=50&q=BENCH-19"),
        ("cases q=<filing reference>", "/api/v1/cases?limit=50&q=BENCH-REF-4242"),
        ("cases assigned_to", f"/api/v1/cases?limit=50&assigned_to={ids['caseworker']}"),
        ("report detail", f"/api/v1/reports/{seeded.report_id}"),
    ]
    # Scorecards (as the supervisor): the default 90 days, a year by platform and by rung,
    # trends by day, week and month, an export and the transparency report.
    today = date.today()
    year_ago = f"from={today - timedelta(days=364)}&to={today}"
    supervisor += [
        ("scorecards (90 days)", "/api/v1/scorecards"),
        ("scorecards year by platform", f"/api/v1/scorecards?{year_ago}&group_by=platform"),
        (
            "scorecards year by platform+rung",
            f"/api/v1/scorecards?{year_ago}&group_by=platform&group_by=rung",
        ),
        (
            "scorecards platform=x channel=email",
            f"/api/v1/scorecards?{year_ago}&platform=x&channel=email",
        ),
        ("scorecards trends day (90 days)", "/api/v1/scorecards/trends?period=day"),
        ("scorecards trends week (year)", f"/api/v1/scorecards/trends?period=week&{year_ago}"),
        (
            "scorecards trends month by platform",
            f"/api/v1/scorecards/trends?period=month&{year_ago}&group_by=platform",
        ),
        (
            "scorecards export csv by platform+rung",
            f"/api/v1/scorecards/export?{year_ago}&group_by=platform&group_by=rung",
        ),
        ("scorecards transparency", f"/api/v1/scorecards/transparency?year={today.year}"),
    ]
    admin = [
        ("summary", "/api/v1/summary"),
        ("reports", listing),
        ("reports state=filed+overdue=true", f"{listing}&state=filed&overdue=true"),
        ("cases", "/api/v1/cases?limit=50"),
    ]
    caseworker = [
        ("summary", "/api/v1/summary"),
        ("reports", listing),
        ("reports state=filed", f"{listing}&state=filed"),
        ("reports state=reappeared", f"{listing}&state=reappeared"),
        ("reports platform=telegram", f"{listing}&platform=telegram"),
        ("reports platform=discord (1 %)", f"{listing}&platform=discord"),
        ("reports overdue=true", f"{listing}&overdue=true"),
        ("reports overdue=false", f"{listing}&overdue=false"),
        ("reports case_id", f"{listing}&case_id={mine}"),
        ("reports state=removed+platform=x", f"{listing}&state=removed&platform=x"),
        ("reports state=acknowledged+overdue=true", f"{listing}&state=acknowledged&overdue=true"),
        ("cases", "/api/v1/cases?limit=50"),
        ("cases report_state=reappeared", "/api/v1/cases?limit=50&report_state=reappeared"),
        ("cases platform=discord (1 %)", "/api/v1/cases?limit=50&platform=discord"),
        ("cases overdue=true", "/api/v1/cases?limit=50&overdue=true"),
        ("report detail", f"/api/v1/reports/{seeded.caseworker_report_id}"),
    ]
    return [
        *((name, "supervisor", path) for name, path in supervisor),
        *((name, "admin", path) for name, path in admin),
        *((name, "caseworker", path) for name, path in caseworker),
    ]


def keyset_endpoints(seeded: Seeded) -> list[tuple[str, str, str]]:
    """Requests only a checkout with keyset paging answers as asked (others ignore the key)."""
    middle = seeded.reports // 2
    listing = f"/api/v1/reports?limit=50&before_id={middle}"
    return [
        ("reports before_id=<middle> (deep, by key)", "supervisor", listing),
        ("reports state=filed before_id=<middle>", "supervisor", f"{listing}&state=filed"),
        ("reports before_id=<middle>", "caseworker", listing),
    ]
