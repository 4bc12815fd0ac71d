"""`hotline erlang`: the JSON contract, the sizing, the table and the refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hotline.cli.main import app

PUBLISHED = ["erlang", "--calls", "100", "--period-s", "1800", "--aht-s", "180"]
runner = CliRunner()


def test_json_for_given_agents() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--agents", "14", "--json"])
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"traffic_erlangs", "agents", "p_wait", "service_level", "asa_s", "occupancy"}
    assert answer["traffic_erlangs"] == 10.0 and answer["agents"] == 14
    assert round(answer["p_wait"], 4) == 0.1741
    assert round(answer["service_level"], 3) == 0.888
    assert round(answer["asa_s"], 2) == 7.84
    assert round(answer["occupancy"], 3) == 0.714


def test_json_sizes_the_agents_for_a_goal() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--sl-goal", "0.8", "--target-s", "20", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["agents"] == 14


def test_an_unstable_queue_has_a_null_asa() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--agents", "10", "--json"])
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["asa_s"] is None
    assert (answer["p_wait"], answer["service_level"], answer["occupancy"]) == (1.0, 0.0, 1.0)


def test_patience_adds_erlang_a() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--agents", "8", "--patience-s", "120", "--json"])
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["asa_s"] is None  # Erlang C: 8 agents for 10 erlangs never catch up
    assert set(answer["erlang_a"]) == {"p_wait", "p_abandon", "service_level", "asa_s", "occupancy"}
    assert 0.0 < answer["erlang_a"]["p_abandon"] < 1.0
    assert answer["erlang_a"]["asa_s"] > 0.0


def test_the_table() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--agents", "14", "--patience-s", "120"])
    assert result.exit_code == 0, result.stderr
    assert "10.00 erlangs, 14 agents" in result.stdout
    assert "Erlang A (patience 120 s)" in result.stdout
    assert "answered within 20 s" in result.stdout and "88.8 %" in result.stdout


def test_the_table_says_when_the_queue_is_unstable() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--agents", "9"])
    assert result.exit_code == 0, result.stderr
    assert "never (unstable)" in result.stdout


def test_neither_agents_nor_goal_is_refused() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--json"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: give --agents")
    assert result.stdout == ""


def test_both_agents_and_goal_are_refused() -> None:
    result = runner.invoke(app, [*PUBLISHED, "--agents", "14", "--sl-goal", "0.8"])
    assert result.exit_code == 2 and "not both" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--calls", "-1", "--period-s", "1800", "--aht-s", "180", "--agents", "14"], "calls must be"),
        (["--calls", "100", "--period-s", "0", "--aht-s", "180", "--agents", "14"], "period_s must be"),
        (["--calls", "100", "--period-s", "1800", "--aht-s", "0", "--agents", "14"], "aht_s must be"),
        (["--calls", "100", "--period-s", "1800", "--aht-s", "180", "--agents", "0"], "agents must be"),
        (["--calls", "100", "--period-s", "1800", "--aht-s", "180", "--sl-goal", "1.2"], "sl_goal must be"),
        (
            ["--calls", "100", "--period-s", "1800", "--aht-s", "180", "--agents", "14", "--patience-s", "0"],
            "patience_s must be",
        ),
    ],
)
def test_bad_values_are_refused(options: list[str], message: str) -> None:
    result = runner.invoke(app, ["erlang", *options, "--json"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stdout == ""
