from datetime import UTC, date, datetime

import pytest

from hotline.domain import topics
from hotline.web import french


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("+33612345678", "06 12 34 56 78"),
        ("0380123456", "03 80 12 34 56"),
        ("03.80.12.34.56", "03 80 12 34 56"),
        ("+33800123456", "0 800 123 456"),
        ("6001", "6001"),  # an extension: left alone
        ("+41221234567", "+41221234567"),  # abroad: as it came
        (None, "numéro masqué"),
        ("", "numéro masqué"),
    ],
)
def test_phone_numbers_are_grouped_as_a_city_writes_them(raw: str | None, shown: str) -> None:
    assert french.phone(raw) == shown


def test_dates_are_in_paris_time_winter_and_summer() -> None:
    assert french.date_time(datetime(2026, 12, 3, 13, 5, tzinfo=UTC)) == "03/12/2026 à 14 h 05"
    assert french.date_time(datetime(2026, 7, 14, 8, 0, tzinfo=UTC)) == "14/07/2026 à 10 h 00"
    assert french.clock(datetime(2026, 12, 3, 13, 5)) == "14 h 05"  # naive, as SQLite gives it back: UTC
    assert french.date_time(None) == ""


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0 s"), (45.7, "45 s"), (125, "2 min 05 s"),
                                                (3720, "1 h 02 min"), (-3, "0 s")])  # fmt: skip
def test_durations(seconds: float, shown: str) -> None:
    assert french.duration(seconds) == shown


def test_every_topic_of_the_knowledge_base_has_its_french_name() -> None:
    from hotline.settings import DEFAULT_KB_PATH
    from kb.loader import load_kb

    used = {e.topic for e in load_kb(DEFAULT_KB_PATH).entries}
    assert used <= set(topics.TOPIC_LABELS), sorted(used - set(topics.TOPIC_LABELS))
    assert topics.topic("dechets") == "Déchets" and topics.topic("cimetiere") == "Cimetière"
    assert topics.topic("nouveau-sujet") == "Nouveau sujet" and topics.topic(None) == "sans sujet"


def test_every_handoff_reason_of_the_flow_has_a_french_label() -> None:
    from ivr.flow.call_flow import HandoffReason

    assert {r.value for r in HandoffReason} <= set(french.HANDOFF_LABELS)


def test_callback_results_in_french() -> None:
    assert french.callback_result("busy") == "occupé"
    assert french.callback_result(None) == "en cours"
    assert french.callback_result("interrupted").startswith("interrompu")


def test_every_callback_state_has_a_french_label() -> None:
    from hotline.domain.enums import CallbackState

    assert {s.value for s in CallbackState} == set(french.CALLBACK_STATE_LABELS)
    assert french.callback_state(CallbackState.PENDING) == "à rappeler"


def test_audit_details_in_french() -> None:
    from hotline.web.routes.admin_pages import details_text

    assert details_text({"role": "agent", "skills": ["eau", "voirie"]}) == "rôle : agent ; compétences : eau, voirie"
    assert details_text({"message": None, "from": [], "to": ["pause"]}) == "message : — ; avant : — ; après : pause"


def test_a_day_written_out_in_french() -> None:
    assert french.long_date(date(2026, 12, 3)) == "jeudi 3 décembre 2026"
    assert french.long_date(date(2026, 2, 1)) == "dimanche 1er février 2026"
