"""dashboards/: the Prometheus config, the alert rules and their unit tests (promtool), the Grafana provisioning
and dashboard, and the compose services that mount them.

promtool comes with Debian's `prometheus` package, which scripts/setup installs: without it these tests fail
(CI must not pass by skipping them).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.services.metrics import METRICS

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
PROMETHEUS_DIR = DASHBOARDS / "prometheus"
PROMETHEUS_YML = PROMETHEUS_DIR / "prometheus.yml"
ALERTS_YML = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST_YML = PROMETHEUS_DIR / "alerts_test.yml"
GRAFANA_DIR = DASHBOARDS / "grafana"
DATASOURCES_YML = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS_YML = GRAFANA_DIR / "provisioning" / "dashboards" / "hotline.yml"
DASHBOARD_JSON = GRAFANA_DIR / "dashboards" / "hotline.json"
ASTERISK_METRICS_TXT = DASHBOARDS / "asterisk-metrics.txt"
COMPOSE_YAML = ROOT / "compose.yaml"

EXPECTED_HOTLINE_METRICS = METRICS  # what the app exports (tests/integration/test_metrics.py checks it does)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

EXPECTED_ALERTS = {
    "HotlineTopicSurge",
    "HotlineServiceLevelBelowGoal",
    "HotlineCallersWaitingNoAgent",
    "HotlineAriDisconnected",
    "HotlineCallbackBacklog",
    "HotlineScrapeDown",
}

METRIC_NAME = re.compile(r"(?<![A-Za-z0-9_:])((?:hotline|asterisk)_[A-Za-z0-9_:]*)")
JOB_MATCHER = re.compile(r"""\bjob\s*=\s*"([^"]*)\"""")
STRING_LITERAL = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
FRENCH_HINT = re.compile(r"[éèêàùç]|\b(le|la|les|de|des|du|en|depuis|appels?|agents?|rappels?)\b", re.IGNORECASE)


# ---- helpers --------------------------------------------------------------------------------------------------


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool; a missing promtool is a failure, never a skip."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is missing: it ships with Debian's `prometheus` package, which scripts/setup installs "
            "(as root: bash scripts/setup, or apt-get install --no-install-recommends prometheus)",
            pytrace=False,
        )
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def assert_promtool_ok(*args: str) -> str:
    done = promtool(*args)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"promtool {' '.join(args)} failed (exit {done.returncode}):\n{output}"
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))
    return data


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, rows included, with the panels of collapsed rows."""
    out: list[dict[str, Any]] = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))
    return out


def data_panels() -> list[dict[str, Any]]:
    """The panels that show data (rows are only headings)."""
    return [p for p in all_panels(dashboard()["panels"]) if p.get("type") != "row"]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS_YML)["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every target of the dashboard."""
    return [
        (f"panel {panel['id']} {panel['title']!r} target {target.get('refId')}", target["expr"])
        for panel in data_panels()
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def rule_expressions() -> list[tuple[str, str]]:
    return [(f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]) for rule in alert_rules()]


def all_expressions() -> list[tuple[str, str]]:
    return dashboard_expressions() + rule_expressions()


def asterisk_metrics() -> dict[str, str]:
    """dashboards/asterisk-metrics.txt: `name type` lines, # comments."""
    metrics: dict[str, str] = {}
    for line in ASTERISK_METRICS_TXT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, kind = line.split()
        metrics[name] = kind
    return metrics


def known_metrics() -> dict[str, str]:
    return {**EXPECTED_HOTLINE_METRICS, **asterisk_metrics()}


def metric_names(expr: str) -> set[str]:
    """The hotline_* / asterisk_* identifiers of a PromQL expression (string literals left out)."""
    return set(METRIC_NAME.findall(STRING_LITERAL.sub('""', expr)))


def unknown_metric(name: str, known: dict[str, str]) -> bool:
    """A series name the exporters do not produce. A histogram is only ever read through _bucket/_sum/_count."""
    if known.get(name) not in (None, "histogram"):
        return False
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and known.get(name.removesuffix(suffix)) == "histogram":
            return False
    return True


def check_promql(expressions: list[tuple[str, str]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """promtool parses PromQL in rule files: one recording rule per expression."""
    rules = [{"record": f"dashboards_check:expr_{i}", "expr": expr} for i, (_, expr) in enumerate(expressions)]
    path = tmp_path / "expressions.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}), encoding="utf-8")
    return promtool("check", "rules", str(path))


def compose_service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = load_yaml(COMPOSE_YAML)["services"]
    assert name in services, f"compose.yaml has no {name} service"
    service: dict[str, Any] = services[name]
    return service


def bind_mounts(service: dict[str, Any]) -> dict[str, tuple[Path, bool]]:
    """target -> (host source resolved from the repository root, read-only) for the service's bind mounts."""
    mounts: dict[str, tuple[Path, bool]] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            if not parts[0].startswith((".", "/")):
                continue  # a named volume
            mounts[parts[1]] = ((ROOT / parts[0]).resolve(), len(parts) > 2 and "ro" in parts[2].split(","))
        elif volume.get("type") == "bind":
            mounts[volume["target"]] = ((ROOT / volume["source"]).resolve(), bool(volume.get("read_only")))
    return mounts


# ---- Prometheus -----------------------------------------------------------------------------------------------


def test_prometheus_config_is_valid() -> None:
    output = assert_promtool_ok("check", "config", str(PROMETHEUS_YML))
    assert "1 rule files found" in output, output


def test_alert_rules_are_valid() -> None:
    output = assert_promtool_ok("check", "rules", str(ALERTS_YML))
    assert f"{len(EXPECTED_ALERTS)} rules found" in output, output


def test_alert_rules_unit_tests_pass() -> None:
    output = assert_promtool_ok("test", "rules", str(ALERTS_TEST_YML))
    assert "SUCCESS" in output, output


def test_prometheus_scrapes_the_hotline_and_asterisk() -> None:
    config = load_yaml(PROMETHEUS_YML)
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"hotline", "asterisk"}
    targets = {name: [t for sc in job["static_configs"] for t in sc["targets"]] for name, job in jobs.items()}
    assert targets == {"hotline": ["hotline:8000"], "asterisk": ["asterisk:8088"]}
    for job in jobs.values():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert job.get("scrape_interval", config["global"]["scrape_interval"]) in ("5s", "15s")


def test_every_alert_is_there_with_french_annotations() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == EXPECTED_ALERTS
    for rule in rules:
        annotations = rule.get("annotations", {})
        for key in ("summary", "description"):
            text = annotations.get(key, "")
            assert FRENCH_HINT.search(text), f"{rule['alert']}: {key} should be a French sentence, got {text!r}"
        assert rule.get("labels", {}).get("severity") in ("warning", "critical"), rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    tests = load_yaml(ALERTS_TEST_YML)
    assert tests["rule_files"] == ["alerts.yml"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fired == EXPECTED_ALERTS, f"no test where these fire: {EXPECTED_ALERTS - fired}"
    assert quiet == EXPECTED_ALERTS, f"no test where these stay quiet: {EXPECTED_ALERTS - quiet}"


def test_alert_thresholds_are_the_agreed_ones() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    expected = {
        "HotlineTopicSurge": ("hotline_topic_surge == 1", "2m"),
        "HotlineServiceLevelBelowGoal": ("hotline_service_level_ratio < hotline_service_level_goal_ratio", "10m"),
        "HotlineCallersWaitingNoAgent": ("hotline_agents_logged_in == 0", "1m"),
        "HotlineAriDisconnected": ("hotline_ari_connected == 0", "30s"),
        "HotlineCallbackBacklog": ("hotline_callbacks_pending > 20", "15m"),
        "HotlineScrapeDown": ('up{job="hotline"} == 0', "1m"),
    }
    for name, (fragment, duration) in expected.items():
        assert fragment in " ".join(rules[name]["expr"].split()), (name, rules[name]["expr"])
        assert rules[name]["for"] == duration, name
    assert "hotline_queue_calls > 0" in rules["HotlineCallersWaitingNoAgent"]["expr"]


# ---- PromQL and metric names ----------------------------------------------------------------------------------


def test_every_promql_expression_parses(tmp_path: Path) -> None:
    expressions = all_expressions()
    assert len(expressions) > len(EXPECTED_ALERTS)
    done = check_promql(expressions, tmp_path)
    listing = "\n".join(f"  expr_{i}: {where}: {expr}" for i, (where, expr) in enumerate(expressions))
    assert done.returncode == 0, f"invalid PromQL:\n{(done.stdout + done.stderr).strip()}\n{listing}"


def test_the_promql_check_rejects_a_broken_expression(tmp_path: Path) -> None:
    done = check_promql([("broken", "sum(rate(hotline_calls_offered_total[5m])")], tmp_path)
    assert done.returncode != 0, done.stdout + done.stderr


def test_every_metric_name_is_exported() -> None:
    known = known_metrics()
    unknown = {
        f"{where}: {name}"
        for where, expr in all_expressions()
        for name in metric_names(expr)
        if unknown_metric(name, known)
    }
    assert not unknown, "metrics neither the hotline nor Asterisk exports:\n" + "\n".join(sorted(unknown))


def test_metric_name_check_itself() -> None:
    known = known_metrics()
    assert metric_names('sum by (le) (rate(hotline_talk_seconds_bucket{job="hotline_x"}[5m]))') == {
        "hotline_talk_seconds_bucket"
    }
    assert not unknown_metric("hotline_talk_seconds_count", known)
    assert unknown_metric("hotline_talk_seconds", known)  # a histogram has no bare series
    assert unknown_metric("hotline_queue_calls_bucket", known)  # a gauge has no buckets
    assert not unknown_metric("asterisk_calls_sum", known)  # a counter that is named *_sum
    assert unknown_metric("hotline_calls_offered", known)


def test_the_asterisk_metrics_list_is_res_prometheus_output() -> None:
    text = ASTERISK_METRICS_TXT.read_text(encoding="utf-8")
    assert "res_prometheus" in text.splitlines()[0]
    metrics = asterisk_metrics()
    assert all(name.startswith("asterisk_") for name in metrics)
    assert set(metrics.values()) <= {"counter", "gauge", "histogram", "summary", "untyped"}
    for name in ("asterisk_channels_count", "asterisk_calls_count", "asterisk_core_uptime_seconds"):
        assert name in metrics


def test_the_jobs_named_in_expressions_are_scraped() -> None:
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS_YML)["scrape_configs"]}
    named = {job for _, expr in all_expressions() for job in JOB_MATCHER.findall(expr)}
    assert named and named <= jobs, named - jobs


# ---- Grafana --------------------------------------------------------------------------------------------------


def provisioned_datasource() -> dict[str, Any]:
    datasources = load_yaml(DATASOURCES_YML)["datasources"]
    assert len(datasources) == 1
    datasource: dict[str, Any] = datasources[0]
    return datasource


def test_grafana_datasource_is_the_compose_prometheus() -> None:
    datasource = provisioned_datasource()
    assert datasource["type"] == "prometheus"
    assert datasource["uid"]
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource.get("isDefault") is True


def test_grafana_dashboard_provider_reads_the_mounted_folder() -> None:
    providers = load_yaml(PROVIDERS_YML)["providers"]
    assert [p["type"] for p in providers] == ["file"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_is_a_provisionable_grafana_dashboard() -> None:
    board = dashboard()
    assert board["schemaVersion"] == 39
    assert board["uid"] and board["title"]
    assert board.get("id") is None  # provisioned dashboards get their id from Grafana
    ids = [panel["id"] for panel in all_panels(board["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_panel_queries_the_provisioned_datasource() -> None:
    uid = provisioned_datasource()["uid"]
    panels = data_panels()
    assert len(panels) >= 15
    for panel in panels:
        where = f"panel {panel['id']} {panel.get('title')!r}"
        assert panel.get("datasource") == {"type": "prometheus", "uid": uid}, where
        assert panel.get("targets"), f"{where} has no target"
        for target in panel["targets"]:
            assert target.get("expr"), f"{where}: a target without expr"
            assert target.get("datasource", {"uid": uid})["uid"] == uid, where


def test_panel_titles_are_french() -> None:
    for panel in all_panels(dashboard()["panels"]):
        assert panel.get("title"), f"panel {panel['id']} has no title"
    titles = " ".join(panel["title"] for panel in data_panels())
    for word in ("Appels en attente", "Attente la plus longue", "Agents", "Niveau de service", "abandon", "Asterisk"):
        assert word in titles, word


def test_panels_do_not_overlap() -> None:
    taken: dict[tuple[int, int], int] = {}
    for panel in all_panels(dashboard()["panels"]):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"panel {panel['id']} is wider than the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"panels {taken[(x, y)]} and {panel['id']} overlap at {(x, y)}"
                taken[(x, y)] = panel["id"]


def test_the_wallboard_kpis_are_on_the_dashboard() -> None:
    exprs = " ".join(" ".join(expr.split()) for _, expr in dashboard_expressions())
    for needed in (
        "sum by (outcome) (rate(hotline_calls_offered_total[5m])) * 60",
        "histogram_quantile(0.95, sum by (le) (rate(hotline_queue_wait_seconds_bucket[5m])))",
        "hotline_speech_turn_latency_seconds_bucket",
        "hotline_talk_seconds_bucket",
        "hotline_wrap_up_seconds_bucket",
    ):
        assert needed in exprs, needed
    used = set().union(*(metric_names(expr) for _, expr in dashboard_expressions()))
    bases = {name.removesuffix(s) for name in used for s in HISTOGRAM_SUFFIXES if name.endswith(s)} | used
    missing = set(EXPECTED_HOTLINE_METRICS) - bases
    assert not missing, f"hotline metrics no panel shows: {sorted(missing)}"
    asterisk_used = {name for name in used if name.startswith("asterisk_")}
    assert {"asterisk_channels_count", "asterisk_calls_count", "asterisk_core_uptime_seconds"} <= asterisk_used
    assert any(name.startswith("asterisk_endpoints") for name in asterisk_used)


# ---- compose --------------------------------------------------------------------------------------------------


def test_compose_prometheus_mounts_the_config() -> None:
    service = compose_service("prometheus")
    assert service["image"].startswith("prom/prometheus")
    mounts = bind_mounts(service)
    assert mounts.get("/etc/prometheus") == (PROMETHEUS_DIR, True), mounts
    assert "--config.file=/etc/prometheus/prometheus.yml" in service.get("command", [])
    assert "127.0.0.1:9090:9090" in service["ports"]


def test_compose_grafana_mounts_the_provisioning_and_the_dashboards() -> None:
    service = compose_service("grafana")
    assert service["image"].startswith("grafana/grafana")
    mounts = bind_mounts(service)
    assert mounts.get("/etc/grafana/provisioning") == (GRAFANA_DIR / "provisioning", True), mounts
    provider_path = load_yaml(PROVIDERS_YML)["providers"][0]["options"]["path"]
    assert mounts.get(provider_path) == (DASHBOARD_JSON.parent, True), mounts
    assert "127.0.0.1:3000:3000" in service["ports"]
    assert service["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")


def test_compose_has_the_services_prometheus_scrapes() -> None:
    services = load_yaml(COMPOSE_YAML)["services"]
    for job in load_yaml(PROMETHEUS_YML)["scrape_configs"]:
        for target in (t for sc in job["static_configs"] for t in sc["targets"]):
            assert target.split(":")[0] in services, target
    assert provisioned_datasource()["url"].split("//")[1].split(":")[0] in services
