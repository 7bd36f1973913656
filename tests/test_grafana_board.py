"""Issue 12: the monitoring shipped with docker-compose.yml, checked without network or docker.

Compose runs Prometheus and Grafana beside the API, loopback-only and with health checks; the
board's PromQL names only series that a real /metrics scrape exposes (scraped here after one
re-check); its scorecard panels read paths the API's OpenAPI document has.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from test_recheck_flow import filed_report

from tracker.organisations.models import Role
from workers import jobs

ROOT = Path(__file__).parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
BOARD = DEPLOY / "grafana" / "dashboards" / "tracker.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "tracker.yml"
PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "tracker.yml"
INFINITY = "yesoreyeram-infinity-datasource"

PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}  # fmt: skip


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def board() -> dict:
    return json.loads(BOARD.read_text())


def panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside rows included."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def targets(dashboard: dict, datasource_type: str) -> list[dict]:
    return [
        target
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if (target.get("datasource") or panel.get("datasource") or {}).get("type")
        == datasource_type
    ]


def metric_names(expression: str) -> set[str]:
    """The series a PromQL expression selects (functions, keywords, labels left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


# --- compose ---


def test_compose_runs_prometheus_and_grafana_healthy_on_loopback_only():
    services = compose()["services"]
    for name, probe in (("prometheus", "/-/healthy"), ("grafana", "/api/health")):
        service = services[name]
        assert probe in " ".join(service["healthcheck"]["test"]), name
        assert service["depends_on"]["api"] == {"condition": "service_healthy"}, name
        assert service["ports"], name
    assert services["grafana"]["depends_on"]["prometheus"] == {"condition": "service_healthy"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")


def test_compose_takes_the_secrets_from_the_environment():
    document = compose()
    grafana = document["services"]["grafana"]["environment"]
    assert INFINITY in grafana["GF_INSTALL_PLUGINS"].split(",")
    for name in ("TRACKER_DASHBOARD_KEY", "GF_SECURITY_ADMIN_PASSWORD"):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", grafana[name]), name
    # The metrics key reaches Prometheus as a file: the secret compose makes from the variable.
    [secret] = document["services"]["prometheus"]["secrets"]
    assert document["secrets"][secret] == {"environment": "TRACKER_METRICS_KEY"}
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["api:8000"]}]
    assert job["authorization"] == {
        "type": "Bearer",
        "credentials_file": f"/run/secrets/{secret}",
    }


def test_compose_mounts_what_grafana_and_prometheus_read():
    services = compose()["services"]
    mounts = {
        name: {volume.split(":")[1]: volume.split(":")[0] for volume in services[name]["volumes"]}
        for name in ("prometheus", "grafana")
    }
    assert mounts["prometheus"]["/etc/prometheus/prometheus.yml"] == (
        "./deploy/prometheus/prometheus.yml"
    )
    assert mounts["grafana"]["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    [provider] = yaml.safe_load(PROVIDERS.read_text())["providers"]
    dashboards = mounts["grafana"][provider["options"]["path"]]
    assert (ROOT / dashboards / BOARD.name).is_file()


# --- the data sources and the board ---


def test_the_data_sources_are_provisioned_with_the_dashboard_key():
    sources = {
        source["uid"]: source for source in yaml.safe_load(DATASOURCES.read_text())["datasources"]
    }
    by_type = {source["type"]: source for source in sources.values()}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    scorecards = by_type[INFINITY]
    assert scorecards["url"] == "http://api:8000"
    assert scorecards["jsonData"]["auth_method"] == "bearerToken"
    assert scorecards["jsonData"]["allowedHosts"] == [scorecards["url"]]
    assert scorecards["secureJsonData"]["bearerToken"] == "$TRACKER_DASHBOARD_KEY"
    # Every panel and target names a provisioned data source.
    dashboard = board()
    for panel in panels(dashboard):
        for item in [panel, *panel.get("targets", [])]:
            if "datasource" in item:
                assert item["datasource"]["uid"] in sources, panel["title"]
                assert item["datasource"]["type"] == sources[item["datasource"]["uid"]]["type"]


def test_the_board_parses_with_a_unique_uid_and_every_panel():
    dashboard = board()
    boards = [json.loads(path.read_text()) for path in BOARD.parent.glob("*.json")]
    uids = [item["uid"] for item in boards]
    assert dashboard["uid"] and len(dashboard["uid"]) <= 40 and uids.count(dashboard["uid"]) == 1
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    expressions = " ".join(target["expr"] for target in targets(dashboard, "prometheus"))
    for wanted in (
        "tracker_checks_total",
        "tracker_filings_total",
        "tracker_deliveries_total",
        "tracker_time_to_removal_seconds_bucket",
        "tracker_job_latency_seconds_bucket",
        "tracker_queue_depth",
        "tracker_sweep_duration_seconds_bucket",
        "tracker_reports",
        "tracker_reports_overdue",
    ):
        assert re.search(rf"\b{wanted}\b", expressions), wanted
    assert "histogram_quantile(0.5" in expressions and "histogram_quantile(0.9" in expressions
    paths = {urlsplit(target["url"]).path for target in targets(dashboard, INFINITY)}
    assert paths == {"/api/v1/scorecards", "/api/v1/scorecards/trends"}


def test_metric_names_are_read_from_promql():
    latency = "tracker_job_latency_seconds_bucket"
    assert metric_names(
        f'histogram_quantile(0.9, sum by (le, queue) (rate({latency}{{queue="x"}}[5m])))'
    ) == {latency}
    assert metric_names("sum(tracker_alerts_open) or vector(0)") == {"tracker_alerts_open"}
    assert metric_names("a / on (x) group_left b offset 5m") == {"a", "b"}


@pytest.fixture
def scraped_names(client, people, db, sandbox) -> set[str]:
    """Every family and sample name of a real scrape, after one re-check."""
    report_id, _ = filed_report(client, people, db, sandbox)
    assert jobs.recheck_batch([report_id], db=db) == 1
    key = people.add("scraper", "helpline", Role.METRICS)
    response = client.get("/metrics", headers=key)
    assert response.status_code == 200
    names = set()
    for family in text_string_to_metric_families(response.text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_every_series_the_board_reads_is_exposed(scraped_names):
    for target in targets(board(), "prometheus"):
        selected = metric_names(target["expr"])
        assert selected, target["expr"]
        missing = selected - scraped_names
        assert not missing, (target["expr"], missing)


def test_every_scorecard_panel_reads_a_path_of_the_api(client):
    api = client.app.openapi()["paths"]
    for target in targets(board(), INFINITY):
        address = urlsplit(target["url"])
        assert not address.netloc, target["url"]  # relative to the data source's URL
        assert address.path in api, address.path
        parameters = {parameter["name"] for parameter in api[address.path]["get"]["parameters"]}
        assert set(parse_qs(address.query)) <= parameters, target["url"]
