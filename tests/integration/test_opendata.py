"""The calls' open data on SQLite and PostgreSQL, from hand-counted calls: the day's bounds in Europe/Paris, the
suppression of counts under 5, no total, nothing personal in the files; the public routes through the web app,
and `hotline opendata export` as a person runs it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert
from sqlmodel import Session
from typer.testing import CliRunner

from hotline.app import build
from hotline.cli.main import app as cli
from hotline.domain.enums import CallOutcome
from hotline.domain.report_days import reporting_day
from hotline.services.opendata import COLUMNS, CountRow, daily_counts, to_csv, to_json
from hotline.settings import Settings, get_settings
from hotline.storage.models import Call

PARIS = "Europe/Paris"
MIDNIGHT = time(0, 0)
DAY = date(2024, 11, 12)  # a Tuesday in winter time: the day is [2024-11-11 23:00Z, 2024-11-12 23:00Z)
DAY_START_UTC = datetime(2024, 11, 11, 23, 0, tzinfo=UTC)
DAY_END_UTC = datetime(2024, 11, 12, 23, 0, tzinfo=UTC)
CALLER = "+33612345678"
WORDS = "Bonjour, je suis Jeanne Moreau, il y a une fuite d'eau au 12 rue des Lilas"
SECRETS = (CALLER, "0612345678", "612345678", "Jeanne", "Moreau", "Lilas", "canal-")  # never in any output

# The hand-counted day: (topic, commune, outcome) → the row published.
EXPECTED = [
    {"date": "2024-11-12", "topic": "dechets", "topic_label": "Déchets", "commune": "Chaumières",
     "outcome": "callback_requested", "outcome_label": "Rappel demandé", "calls": None, "suppressed": True},
    {"date": "2024-11-12", "topic": "eau", "topic_label": "Eau", "commune": "Villeroux",
     "outcome": "abandoned", "outcome_label": "Raccroché avant d'être servi", "calls": None, "suppressed": True},
    {"date": "2024-11-12", "topic": "eau", "topic_label": "Eau", "commune": "Villeroux",
     "outcome": "self_served", "outcome_label": "Réponse apportée par le serveur vocal", "calls": 7,
     "suppressed": False},
    {"date": "2024-11-12", "topic": "non_identifie", "topic_label": "Non identifié", "commune": "non_precise",
     "outcome": "to_agent", "outcome_label": "Mis en relation avec un conseiller", "calls": 5, "suppressed": False},
]  # fmt: skip


def add_calls(
    engine: Engine, started: list[datetime], outcome: CallOutcome, topic: str | None, commune: str | None
) -> None:
    """Calls that started at `started`, each lasting 3 minutes (none if still in progress), with the caller's
    number and words recorded, as the IVR records them."""
    with Session(engine) as session:
        for at in started:
            ended = None if outcome is CallOutcome.IN_PROGRESS else at + timedelta(minutes=3)
            session.add(
                Call(
                    channel_id=f"canal-{at.timestamp()}-{outcome.value}-{topic}-{commune}",
                    caller_number=CALLER,
                    called_number="0800123456",
                    started_at=at,
                    ended_at=ended,
                    outcome=outcome,
                    topic=topic,
                    commune=commune,
                    transcript=WORDS,
                    faq_id="eau.fuite",
                )
            )
        session.commit()


def during_day(n: int, first_hour: int = 8) -> list[datetime]:
    return [DAY_START_UTC + timedelta(hours=first_hour, minutes=7 * i) for i in range(n)]


@pytest.fixture
def counted_day(engine: Engine) -> Engine:
    """The day of EXPECTED, with the calls around it that must not count."""
    second = timedelta(seconds=1)
    # 7 self-served water calls from Villeroux: the first at the day's very start (00:00 in Paris), the last one
    # second before its end (23:59:59).
    add_calls(
        engine, [DAY_START_UTC, *during_day(5), DAY_END_UTC - second], CallOutcome.SELF_SERVED, "eau", "Villeroux"
    )
    # The same kind of call one second before the day and at its end: the days before and after.
    add_calls(engine, [DAY_START_UTC - second, DAY_END_UTC], CallOutcome.SELF_SERVED, "eau", "Villeroux")
    # A call started the evening before that ended during the day counts for the day before.
    add_calls(engine, [DAY_START_UTC - timedelta(minutes=2)], CallOutcome.ABANDONED, "eau", "Villeroux")
    add_calls(engine, during_day(3, first_hour=10), CallOutcome.ABANDONED, "eau", "Villeroux")  # 3: suppressed
    add_calls(engine, during_day(4, first_hour=11), CallOutcome.CALLBACK_REQUESTED, "dechets", "Chaumières")  # 4
    add_calls(engine, during_day(5, first_hour=12), CallOutcome.TO_AGENT, None, None)  # 5: published
    add_calls(engine, during_day(1, first_hour=13), CallOutcome.IN_PROGRESS, "eau", "Villeroux")  # not ended
    return engine


def assert_nothing_personal(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret
    assert "T0" not in text and "T1" not in text and "T2" not in text and ":00:00" not in text, "no time of day"


def parsed_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    rows: list[dict[str, Any]] = []
    for row in reader:
        suppressed = {"true": True, "false": False}[row["suppressed"]]
        rows.append({**row, "calls": None if row["calls"] == "" else int(row["calls"]), "suppressed": suppressed})
    return rows


# ---- the counts --------------------------------------------------------------------------------------------


def test_the_day_is_counted_by_hand(counted_day: Engine) -> None:
    rows = daily_counts(counted_day, DAY, PARIS, MIDNIGHT)
    assert [r.as_dict() for r in rows] == EXPECTED
    assert all(r.outcome is not CallOutcome.IN_PROGRESS for r in rows)


def test_the_neighbouring_days_hold_the_calls_outside_the_bounds(counted_day: Engine) -> None:
    before = daily_counts(counted_day, DAY - timedelta(days=1), PARIS, MIDNIGHT)
    assert [(r.topic, r.commune, r.outcome, r.calls) for r in before] == [
        ("eau", "Villeroux", CallOutcome.ABANDONED, None),
        ("eau", "Villeroux", CallOutcome.SELF_SERVED, None),
    ]
    after = daily_counts(counted_day, DAY + timedelta(days=1), PARIS, MIDNIGHT)
    assert [(r.outcome, r.calls, r.suppressed) for r in after] == [(CallOutcome.SELF_SERVED, None, True)]


def test_a_later_day_start_moves_the_night_to_the_day_before(engine: Engine) -> None:
    night = [DAY_START_UTC + timedelta(hours=5, minutes=i) for i in range(5)]  # 05:00-05:04 in Paris
    add_calls(engine, night, CallOutcome.SELF_SERVED, "voirie", "Aurevault")
    assert [r.calls for r in daily_counts(engine, DAY, PARIS, MIDNIGHT)] == [5]
    assert daily_counts(engine, DAY, PARIS, time(6, 0)) == []
    assert [r.calls for r in daily_counts(engine, DAY - timedelta(days=1), PARIS, time(6, 0))] == [5]


def test_the_spring_day_has_23_hours(engine: Engine) -> None:
    spring = date(2024, 3, 31)  # clocks go forward: [2024-03-30 23:00Z, 2024-03-31 22:00Z)
    start, end = datetime(2024, 3, 30, 23, 0, tzinfo=UTC), datetime(2024, 3, 31, 22, 0, tzinfo=UTC)
    add_calls(engine, [start + timedelta(minutes=i) for i in range(5)], CallOutcome.TO_AGENT, "eau", "Fontclaire")
    add_calls(engine, [end + timedelta(minutes=i) for i in range(5)], CallOutcome.TO_AGENT, "eau", "Fontclaire")
    assert [(r.date, r.calls) for r in daily_counts(engine, spring, PARIS, MIDNIGHT)] == [(spring, 5)]
    assert [(r.date, r.calls) for r in daily_counts(engine, date(2024, 4, 1), PARIS, MIDNIGHT)] == [
        (date(2024, 4, 1), 5)
    ]


def test_csv_and_json_hold_the_rows_and_nothing_personal(counted_day: Engine) -> None:
    rows = daily_counts(counted_day, DAY, PARIS, MIDNIGHT)
    text = to_csv(rows)
    assert text.startswith(",".join(COLUMNS) + "\n") and "\r" not in text and text.endswith("\n")
    assert parsed_csv(text) == EXPECTED
    assert "eau,Eau,Villeroux,abandoned,Raccroché avant d'être servi,,true\n" in text, "a suppressed count is empty"
    assert_nothing_personal(text)

    document = json.loads(to_json(rows, DAY, PARIS, MIDNIGHT, "https://example.org/opendata/dictionnaire.json"))
    assert document == {
        "dataset": "appels-numero-vert", "date": "2024-11-12", "timezone": PARIS, "day_start": "00:00",
        "suppression_threshold": 5, "rows": EXPECTED, "dictionary": "https://example.org/opendata/dictionnaire.json",
    }  # fmt: skip
    assert_nothing_personal(to_json(rows, DAY, PARIS, MIDNIGHT))


def test_no_small_number_and_no_total_is_published(counted_day: Engine) -> None:
    rows = daily_counts(counted_day, DAY, PARIS, MIDNIGHT)
    assert all(r.calls is None or r.calls >= 5 for r in rows)
    assert all(r.suppressed == (r.calls is None) for r in rows)
    text = to_json(rows, DAY, PARIS, MIDNIGHT)
    assert "total" not in text.lower()
    assert {r.calls for r in rows} == {None, 5, 7}, "the 3 and the 4 are hidden"
    assert "19" not in to_csv(rows) + text, "the day's 19 finished calls are published nowhere"


def test_an_empty_day_is_a_header_and_no_rows(engine: Engine) -> None:
    assert daily_counts(engine, DAY, PARIS, MIDNIGHT) == []
    assert to_csv([]) == ",".join(COLUMNS) + "\n"
    assert json.loads(to_json([], DAY, PARIS, MIDNIGHT))["rows"] == []


def test_a_busy_day_is_counted_in_groups_by_the_database(engine: Engine) -> None:
    topics, communes = ["eau", "dechets", "voirie", None], ["Villeroux", "Aurevault", "Fontclaire", None]
    outcomes = [CallOutcome.SELF_SERVED, CallOutcome.TO_AGENT, CallOutcome.ABANDONED]
    calls = [
        {"channel_id": f"perf-{i}", "caller_number": CALLER, "called_number": "0800123456",
         "started_at": DAY_START_UTC + timedelta(seconds=20 * i),
         "ended_at": DAY_START_UTC + timedelta(seconds=20 * i + 60),
         "outcome": outcomes[i % 3], "topic": topics[i % 4], "commune": communes[(i // 4) % 4], "crisis_mode": False}
        for i in range(4_000)  # one every 20 s: 80,000 s, inside the day; 48 cells of about 83 calls
    ]  # fmt: skip
    with Session(engine) as session:
        session.execute(insert(Call), calls)
        session.commit()
    rows = daily_counts(engine, DAY, PARIS, MIDNIGHT)  # its speed at 20,000 calls: `hotline bench supervision`
    assert len(rows) == 4 * 4 * 3 and sum(r.calls or 0 for r in rows) == 4_000


# ---- the public routes ---------------------------------------------------------------------------------------


@pytest.fixture
def client(counted_day: Engine, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    with TestClient(build(settings, with_ivr=False).web) as c:
        yield c


def test_the_day_in_csv_and_json_without_signing_in(client: TestClient) -> None:
    r = client.get("/opendata/appels-2024-11-12.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="appels-2024-11-12.csv"'
    assert parsed_csv(r.content.decode("utf-8")) == EXPECTED
    assert_nothing_personal(r.text)

    r = client.get("/opendata/appels-2024-11-12.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    document = json.loads(r.content)
    assert document["rows"] == EXPECTED and document["date"] == "2024-11-12"
    assert document["timezone"] == PARIS and document["day_start"] == "00:00"
    assert document["suppression_threshold"] == 5
    assert document["dictionary"] == "http://testserver/opendata/dictionnaire.json"
    assert_nothing_personal(r.text)


@pytest.mark.parametrize("bad", ["2024-02-30", "2024-13-01", "hier", "2024-1-5", "20241112", "0001-01-01"])
def test_a_bad_date_is_a_404_in_french(client: TestClient, bad: str) -> None:
    for fmt in ("csv", "json"):
        r = client.get(f"/opendata/appels-{bad}.{fmt}")
        assert r.status_code == 404, (bad, r.text)
        assert r.json()["detail"].startswith(("Date invalide", "Date hors limites")), r.text


def test_today_and_the_future_are_not_published(client: TestClient) -> None:
    today = reporting_day(datetime.now(UTC), PARIS, MIDNIGHT)
    r = client.get(f"/opendata/appels-{today.isoformat()}.csv")
    assert r.status_code == 404
    assert "n'est pas terminée" in r.json()["detail"] and "publiées après la fin de la journée" in r.json()["detail"]
    r = client.get(f"/opendata/appels-{(today + timedelta(days=1)).isoformat()}.json")
    assert r.status_code == 404 and "pas encore eu lieu" in r.json()["detail"]
    yesterday = today - timedelta(days=1)
    assert client.get(f"/opendata/appels-{yesterday.isoformat()}.json").status_code == 200


def test_the_page_links_the_last_30_finished_days(client: TestClient) -> None:
    r = client.get("/opendata/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    today = reporting_day(datetime.now(UTC), PARIS, MIDNIGHT)
    for back in range(1, 31):
        day = (today - timedelta(days=back)).isoformat()
        assert f'href="/opendata/appels-{day}.csv"' in r.text and f'href="/opendata/appels-{day}.json"' in r.text
    assert f"appels-{today.isoformat()}" not in r.text, "today is not over"
    assert f"appels-{(today - timedelta(days=31)).isoformat()}" not in r.text
    assert "Données ouvertes" in r.text and 'href="/opendata/dictionnaire"' in r.text
    assert "Licence Ouverte" in r.text and 'lang="fr"' in r.text


def test_the_dictionary_in_json_and_in_french(client: TestClient) -> None:
    r = client.get("/opendata/dictionnaire.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    dictionary = json.loads(r.content)
    assert [c["name"] for c in dictionary["columns"]] == list(COLUMNS)
    assert all(c["type"] and c["description"] for c in dictionary["columns"])
    outcomes = next(c for c in dictionary["columns"] if c["name"] == "outcome")["values"]
    assert set(outcomes) == {o.value for o in CallOutcome} - {"in_progress"}
    topics = next(c for c in dictionary["columns"] if c["name"] == "topic")["values"]
    assert topics["eau"] == "Eau" and topics["non_identifie"] == "Non identifié"
    assert dictionary["suppression"]["threshold"] == 5 and "aucun total" in dictionary["suppression"]["rule"]
    assert dictionary["licence"]["spdx"] == "etalab-2.0" and "Licence Ouverte" in dictionary["licence"]["name"]
    assert "Aucune donnée personnelle" in dictionary["personal_data"]
    assert dictionary["timezone"] == PARIS and dictionary["day_start"] == "00:00"

    page = client.get("/opendata/dictionnaire")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for words in ("Dictionnaire des données", "Secret statistique", "aucun total n&#39;est publié",
                  "Licence Ouverte / Open Licence version 2.0", "Aucune donnée personnelle", "non_precise",
                  "Réponse apportée par le serveur vocal", "<code>suppressed</code>"):  # fmt: skip
        assert words in page.text, words


# ---- the command line -----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(counted_day: Engine, database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_DATABASE_URL": database_url}
    get_settings.cache_clear()


def test_the_export_command_prints_the_day(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(cli, ["opendata", "export", "--date", "2024-11-12", "--format", "csv"], env=cli_env)
    assert done.exit_code == 0, done.output
    assert parsed_csv(done.stdout) == EXPECTED
    assert_nothing_personal(done.stdout)

    done = runner.invoke(cli, ["opendata", "export", "--date", "2024-11-12", "--format", "json"], env=cli_env)
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["rows"] == EXPECTED and document["dictionary"] == "/opendata/dictionnaire.json"

    out = tmp_path / "export" / "appels.json"
    out.parent.mkdir()
    args = ["opendata", "export", "--date", "2024-11-12", "--format", "json", "--out", str(out),
            "--base-url", "https://numero-vert.example.fr/"]  # fmt: skip
    done = runner.invoke(cli, args, env=cli_env)
    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["rows"] == EXPECTED
    assert written["dictionary"] == "https://numero-vert.example.fr/opendata/dictionnaire.json"


@pytest.mark.parametrize(("date_text", "says"), [("2024-02-30", "Date invalide"), ("demain", "Date invalide")])
def test_the_export_command_refuses_a_bad_date(cli_env: dict[str, str], date_text: str, says: str) -> None:
    done = CliRunner().invoke(cli, ["opendata", "export", "--date", date_text, "--format", "csv"], env=cli_env)
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith(f"error: {says}"), done.stderr


def test_the_export_command_refuses_an_unfinished_day(cli_env: dict[str, str]) -> None:
    today = reporting_day(datetime.now(UTC), PARIS, MIDNIGHT).isoformat()
    done = CliRunner().invoke(cli, ["opendata", "export", "--date", today], env=cli_env)
    assert done.exit_code == 2 and "n'est pas terminée" in done.stderr


def test_a_row_knows_it_is_suppressed() -> None:
    row = CountRow(DAY, "eau", "Villeroux", CallOutcome.ABANDONED, None)
    assert row.suppressed and row.as_dict()["calls"] is None
