"""The storage layer on a real database, once on SQLite and once on PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, col, select

from hotline.domain import dossier
from hotline.domain.enums import (
    AgentState,
    CallbackState,
    CallOutcome,
    QueueEntryState,
    TicketStatus,
)
from hotline.storage import repository
from hotline.storage.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    alembic_config,
    make_engine,
    new_session,
    normalize_database_url,
    session_scope,
    upgrade_database,
)
from hotline.storage.models import (
    Agent,
    AgentCreate,
    AgentPublic,
    AgentStateChange,
    AuditLog,
    Call,
    Callback,
    CallCreate,
    CallEvent,
    CallPublic,
    QueueEntry,
    Ticket,
    TicketCreate,
    TicketNote,
    TicketPublic,
    TicketStatusChange,
    UnmatchedUtterance,
)
from hotline.storage.repository import (
    add_ticket_note,
    audit,
    change_ticket_status,
    create_call,
    create_ticket,
    find_ticket_by_dossier,
    record_call_event,
    record_unmatched,
    request_callback,
    set_agent_state,
)

EXPECTED_TABLES = {
    "agent",
    "web_session",
    "open311_key",
    "site_setting",
    "agent_state_change",
    "audit_log",
    "call",
    "call_event",
    "callback",
    "callback_attempt",
    "ticket_call",
    "crisis_state",
    "queue_entry",
    "ticket",
    "ticket_note",
    "ticket_status_change",
    "unmatched_utterance",
    "resident",
}
PARIS_WINTER = timezone(timedelta(hours=1))  # a fixed offset, so the test does not depend on tzdata
T0 = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def _head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _new_call(engine: Engine, channel_id: str = "1700000000.1") -> int:
    with session_scope(engine) as session:
        call = create_call(
            session, CallCreate(channel_id=channel_id, caller_number="+33612345678", called_number="0800123456")
        )
        assert call.id is not None
        return call.id


def _new_agent(engine: Engine, login: str = "mdupont") -> int:
    with session_scope(engine) as session:
        agent = Agent.model_validate(
            AgentCreate(login=login, display_name="Marie Dupont", sip_endpoint="agent-1001", skills=["eau"])
        )
        session.add(agent)
        session.flush()
        assert agent.id is not None
        return agent.id


# ---------------------------------------------------------------------------------------- migrations


def test_upgrade_from_empty_database_to_head(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # migrations must not depend on the current directory
    probe = make_engine(database_url)
    try:
        assert inspect(probe).get_table_names() == []
        upgrade_database(database_url)
        assert set(inspect(probe).get_table_names()) == EXPECTED_TABLES | {"alembic_version"}
        with probe.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == _head_revision()
        upgrade_database(database_url)  # a second run is a no-op
    finally:
        probe.dispose()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    upgrade_database(database_url)
    probe = make_engine(database_url, sqlite_foreign_keys=False)
    try:
        with probe.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            downgrade(config, "base")
        assert set(inspect(probe).get_table_names()) <= {"alembic_version"}
    finally:
        probe.dispose()
    upgrade_database(database_url)
    probe = make_engine(database_url)
    try:
        assert set(inspect(probe).get_table_names()) >= EXPECTED_TABLES
    finally:
        probe.dispose()


# ------------------------------------------------------------------------------------------- engines


def test_sqlite_engine_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'nested' / 'folder' / 'hotline.db').as_posix()}"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert (tmp_path / "nested" / "folder" / "hotline.db").exists()
    finally:
        engine.dispose()


def test_migrated_sqlite_database_stays_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'hotline.db').as_posix()}"
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_in_memory_sqlite_keeps_one_database_across_sessions() -> None:
    engine = make_engine("sqlite://")
    try:
        SQLModel.metadata.create_all(engine)
        _new_call(engine)
        with new_session(engine) as session:
            assert len(session.exec(select(Call)).all()) == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://root@127.0.0.1:5432/hotline", "postgresql+psycopg"),
        ("postgres://root@127.0.0.1:5432/hotline", "postgresql+psycopg"),
        ("postgresql+psycopg://root@127.0.0.1:5432/hotline", "postgresql+psycopg"),
        ("sqlite:///var/hotline.db", "sqlite"),
    ],
)
def test_database_urls_are_normalised_to_psycopg3(given: str, driver: str) -> None:
    assert normalize_database_url(given).drivername == driver


def test_postgres_engine_uses_psycopg3(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert engine.dialect.driver in {"psycopg", "pysqlite"}
        if engine.dialect.name == "postgresql":
            assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------- calls


def test_call_with_its_event_timeline(engine: Engine) -> None:
    call_id = _new_call(engine)
    kinds = ["stasis_start", "playback_started", "dtmf", "matched", "queued", "hangup"]
    with session_scope(engine) as session:
        for offset, kind in enumerate(kinds):
            record_call_event(session, call_id, kind, {"step": offset, "digit": "1"}, at=T0 + timedelta(seconds=offset))
        call = session.get(Call, call_id)
        assert call is not None
        call.outcome = CallOutcome.TO_AGENT
        call.topic = "eau"
        call.faq_id = "eau.coupure"
        call.transcript = "il n'y a plus d'eau au robinet"
        call.ended_at = T0 + timedelta(minutes=3)

    with new_session(engine) as session:
        events = session.exec(select(CallEvent).where(CallEvent.call_id == call_id).order_by(col(CallEvent.at))).all()
        assert [event.kind for event in events] == kinds
        assert events[2].data == {"step": 2, "digit": "1"}
        call = session.get(Call, call_id)
        assert call is not None
        assert call.outcome is CallOutcome.TO_AGENT
        public = CallPublic.model_validate(call)
        assert public.outcome is CallOutcome.TO_AGENT
        assert public.caller_number == "+33612345678"
        assert public.ended_at == T0 + timedelta(minutes=3)


def test_channel_id_is_unique(engine: Engine) -> None:
    _new_call(engine, "1700000000.7")
    with pytest.raises(IntegrityError):
        _new_call(engine, "1700000000.7")


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        record_call_event(session, 999_999, "hangup")


# ------------------------------------------------------------------------------------------- tickets


def test_ticket_with_dossier_number_notes_and_status_history(engine: Engine) -> None:
    call_id = _new_call(engine)
    agent_id = _new_agent(engine)
    with session_scope(engine) as session:
        ticket = create_ticket(
            session,
            TicketCreate(call_id=call_id, caller_phone="+33612345678", subject="Coupure d'eau", faq_id="eau.coupure"),
            at=T0,
        )
        ticket_id = ticket.id
        number = ticket.dossier_number
        assert dossier.is_valid(number)
        add_ticket_note(session, ticket, "Rappeler après 14 h", author_agent_id=agent_id, at=T0 + timedelta(minutes=1))
        change_ticket_status(
            session, ticket, TicketStatus.IN_PROGRESS, by_agent_id=agent_id, at=T0 + timedelta(minutes=2)
        )
        assert change_ticket_status(session, ticket, TicketStatus.IN_PROGRESS, by_agent_id=agent_id) is None
        change_ticket_status(
            session, ticket, TicketStatus.RESOLVED, by_agent_id=agent_id, reason="réparé", at=T0 + timedelta(hours=2)
        )
        change_ticket_status(session, ticket, TicketStatus.CLOSED, at=T0 + timedelta(days=1))

    with new_session(engine) as session:
        stored = session.get(Ticket, ticket_id)
        assert stored is not None
        assert stored.dossier_number == number
        assert stored.status is TicketStatus.CLOSED
        assert stored.resolved_at == T0 + timedelta(hours=2)  # closing keeps the resolution time
        assert stored.updated_at == T0 + timedelta(days=1)
        history = session.exec(
            select(TicketStatusChange)
            .where(TicketStatusChange.ticket_id == ticket_id)
            .order_by(col(TicketStatusChange.at))
        ).all()
        assert [(h.from_status, h.to_status) for h in history] == [
            (None, TicketStatus.OPEN),
            (TicketStatus.OPEN, TicketStatus.IN_PROGRESS),
            (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED),
            (TicketStatus.RESOLVED, TicketStatus.CLOSED),
        ]
        assert history[2].reason == "réparé"
        assert history[2].by_agent_id == agent_id
        notes = session.exec(select(TicketNote).where(TicketNote.ticket_id == ticket_id)).all()
        assert [(n.body, n.author_agent_id) for n in notes] == [("Rappeler après 14 h", agent_id)]
        public = TicketPublic.model_validate(stored)
        assert public.status is TicketStatus.CLOSED
        assert public.dossier_number == number


def test_reopening_a_ticket_clears_its_resolution_time(engine: Engine) -> None:
    with session_scope(engine) as session:
        ticket = create_ticket(session, TicketCreate(subject="Encombrants"))
        change_ticket_status(session, ticket, TicketStatus.RESOLVED)
        assert ticket.resolved_at is not None
        change_ticket_status(session, ticket, TicketStatus.OPEN, reason="le citoyen rappelle")
        assert ticket.resolved_at is None


def test_many_tickets_get_distinct_valid_numbers(engine: Engine) -> None:
    with session_scope(engine) as session:
        numbers = [create_ticket(session, TicketCreate(subject=f"demande {i}")).dossier_number for i in range(50)]
    assert len(set(numbers)) == len(numbers)
    assert all(dossier.is_valid(number) for number in numbers)


def test_create_ticket_draws_again_when_the_number_is_taken(engine: Engine) -> None:
    seed = 1234
    taken = dossier.new_dossier_number(random.Random(seed))
    with session_scope(engine) as session:
        session.add(Ticket(dossier_number=taken, subject="déjà là"))
    with session_scope(engine) as session:
        ticket = create_ticket(session, TicketCreate(subject="nouvelle"), rng=random.Random(seed))
        assert ticket.dossier_number != taken
        assert dossier.is_valid(ticket.dossier_number)


def test_create_ticket_survives_losing_a_race_for_the_number(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another process inserts the number between our check and our insert: the first check lies.
    seed = 99
    taken = dossier.new_dossier_number(random.Random(seed))
    with session_scope(engine) as session:
        session.add(Ticket(dossier_number=taken, subject="l'autre processus"))
    real_check = repository._dossier_taken
    checks: list[str] = []

    def racy_check(session: Session, number: str) -> bool:
        checks.append(number)
        return False if len(checks) == 1 else real_check(session, number)

    monkeypatch.setattr(repository, "_dossier_taken", racy_check)
    with session_scope(engine) as session:
        earlier = audit(session, "superviseur1", "export.open_data")  # work done before, in the same transaction
        ticket = create_ticket(session, TicketCreate(subject="nouvelle"), rng=random.Random(seed))
        assert checks[:2] == [taken, taken]  # the insert failed on the unique index, then the re-check saw it
        assert ticket.dossier_number != taken
        earlier_id = earlier.id
    with new_session(engine) as session:
        assert session.get(AuditLog, earlier_id) is not None  # the savepoint kept the caller's work
        assert len(session.exec(select(Ticket)).all()) == 2


def test_create_ticket_does_not_retry_other_integrity_errors(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        create_ticket(session, TicketCreate(subject="appel inconnu", call_id=999_999))


def test_dossier_number_uniqueness_is_enforced_by_the_database(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Ticket(dossier_number="12345671", subject="premier"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Ticket(dossier_number="12345671", subject="doublon"))


def test_find_ticket_by_dossier(engine: Engine) -> None:
    with session_scope(engine) as session:
        number = create_ticket(session, TicketCreate(subject="Permis de construire")).dossier_number
    wrong_check = number[:-1] + str((int(number[-1]) + 1) % 10)
    unknown = next(
        candidate
        for candidate in (dossier.new_dossier_number(random.Random(seed)) for seed in range(100))
        if candidate != number
    )
    with new_session(engine) as session:
        found = find_ticket_by_dossier(session, number)
        assert found is not None and found.subject == "Permis de construire"
        spoken = find_ticket_by_dossier(session, dossier.format_for_speech(number))
        assert spoken is not None and spoken.id == found.id
        dotted = find_ticket_by_dossier(session, ".".join(number[i : i + 2] for i in range(0, 8, 2)))
        assert dotted is not None and dotted.id == found.id
        assert find_ticket_by_dossier(session, wrong_check) is None
        assert find_ticket_by_dossier(session, unknown) is None
        assert find_ticket_by_dossier(session, "n'importe quoi") is None
        assert find_ticket_by_dossier(session, "") is None


# -------------------------------------------------------------------------------- agents and queue


def test_agent_state_history(engine: Engine) -> None:
    agent_id = _new_agent(engine)
    steps = [AgentState.AVAILABLE, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AVAILABLE, AgentState.PAUSED]
    with session_scope(engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        for minute, state in enumerate(steps):
            set_agent_state(
                session,
                agent,
                state,
                reason="pause déjeuner" if state is AgentState.PAUSED else None,
                at=T0 + timedelta(minutes=minute),
            )
        assert set_agent_state(session, agent, AgentState.PAUSED) is None  # no change, no history row

    with new_session(engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        assert agent.state is AgentState.PAUSED
        assert agent.state_changed_at == T0 + timedelta(minutes=4)
        assert agent.skills == ["eau"]
        history = session.exec(
            select(AgentStateChange).where(AgentStateChange.agent_id == agent_id).order_by(col(AgentStateChange.at))
        ).all()
        assert [(h.from_state, h.to_state) for h in history] == list(
            zip([AgentState.OFFLINE, *steps[:-1]], steps, strict=True)
        )
        assert history[-1].reason == "pause déjeuner"
        public = AgentPublic.model_validate(agent)
        assert public.login == "mdupont" and public.state is AgentState.PAUSED


def test_agent_login_is_unique(engine: Engine) -> None:
    _new_agent(engine, "jmartin")
    with pytest.raises(IntegrityError):
        _new_agent(engine, "jmartin")


def test_queue_entries_and_a_callback(engine: Engine) -> None:
    agent_id = _new_agent(engine)
    first_call = _new_call(engine, "1700000000.1")
    second_call = _new_call(engine, "1700000000.2")
    with session_scope(engine) as session:
        session.add(QueueEntry(call_id=first_call, topic="eau", priority=5, enqueued_at=T0, position_hint=1))
        session.add(
            QueueEntry(call_id=second_call, topic="dechets", enqueued_at=T0 + timedelta(seconds=20), position_hint=2)
        )
        ticket = create_ticket(
            session, TicketCreate(call_id=second_call, caller_phone="+33698765432", subject="Rappel demandé")
        )
        callback = request_callback(session, ticket, due_at=T0 + timedelta(hours=1), at=T0 + timedelta(minutes=1))
        ticket_id, callback_id = ticket.id, callback.id

    with session_scope(engine) as session:
        waiting = session.exec(
            select(QueueEntry)
            .where(QueueEntry.state == QueueEntryState.WAITING)
            .order_by(col(QueueEntry.priority).desc(), col(QueueEntry.enqueued_at))
        ).all()
        assert [entry.call_id for entry in waiting] == [first_call, second_call]
        first, second = waiting
        first.state = QueueEntryState.ANSWERED
        first.answered_by_agent_id = agent_id
        first.left_at = T0 + timedelta(seconds=45)
        second.state = QueueEntryState.CALLBACK
        second.left_at = T0 + timedelta(minutes=1)
        pending = session.exec(
            select(Callback).where(Callback.state == CallbackState.PENDING, Callback.due_at <= T0 + timedelta(hours=2))
        ).all()
        assert [c.id for c in pending] == [callback_id]
        pending[0].state = CallbackState.DONE
        pending[0].attempts = 1
        pending[0].agent_id = agent_id
        pending[0].done_at = T0 + timedelta(minutes=50)

    with new_session(engine) as session:
        entries = session.exec(select(QueueEntry).order_by(col(QueueEntry.enqueued_at))).all()
        assert [(e.state, e.answered_by_agent_id) for e in entries] == [
            (QueueEntryState.ANSWERED, agent_id),
            (QueueEntryState.CALLBACK, None),
        ]
        done = session.get(Callback, callback_id)
        assert done is not None
        assert (done.state, done.attempts, done.phone) == (CallbackState.DONE, 1, "+33698765432")
        assert done.requested_at == T0 + timedelta(minutes=1)
        stored_ticket = session.get(Ticket, ticket_id)
        assert stored_ticket is not None and stored_ticket.needs_callback


def test_a_callback_needs_a_phone_number(engine: Engine) -> None:
    with session_scope(engine) as session:
        ticket = create_ticket(session, TicketCreate(subject="appel masqué"))
        with pytest.raises(ValueError, match="phone"):
            request_callback(session, ticket, due_at=T0)


# ------------------------------------------------------------------------------ KB review and audit


def test_unmatched_utterances_and_audit_log(engine: Engine) -> None:
    call_id = _new_call(engine)
    with session_scope(engine) as session:
        record_unmatched(
            session,
            "mon compteur fait un bruit bizarre",
            best_faq_id="eau.compteur",
            best_score=0.41,
            call_id=call_id,
            at=T0,
        )
        record_unmatched(session, "euh", best_faq_id=None, best_score=0.0, at=T0 + timedelta(seconds=5))
        audit(session, "superviseur1", "crisis_mode.on", "crise.canicule", {"pre_announcement": True}, at=T0)

    with session_scope(engine) as session:
        to_review = session.exec(
            select(UnmatchedUtterance)
            .where(col(UnmatchedUtterance.reviewed).is_(False))
            .order_by(col(UnmatchedUtterance.at))
        ).all()
        assert [(u.text, u.best_faq_id, u.call_id) for u in to_review] == [
            ("mon compteur fait un bruit bizarre", "eau.compteur", call_id),
            ("euh", None, None),
        ]
        assert to_review[0].best_score == pytest.approx(0.41)
        to_review[0].reviewed = True
        to_review[0].resolved_faq_id = "eau.compteur-bruit"
        row = session.exec(select(AuditLog)).one()
        assert (row.actor, row.action, row.target, row.details) == (
            "superviseur1",
            "crisis_mode.on",
            "crise.canicule",
            {"pre_announcement": True},
        )

    with new_session(engine) as session:
        remaining = session.exec(select(UnmatchedUtterance).where(col(UnmatchedUtterance.reviewed).is_(False))).all()
        assert [u.text for u in remaining] == ["euh"]


# ------------------------------------------------------------------------------ timestamps and enums


def test_timestamps_come_back_timezone_aware_in_utc(engine: Engine) -> None:
    local = datetime(2026, 1, 15, 10, 30, 15, 123456, tzinfo=PARIS_WINTER)
    call_id = _new_call(engine)
    with session_scope(engine) as session:
        record_call_event(session, call_id, "stasis_start", at=local)
    with new_session(engine) as session:
        event = session.exec(select(CallEvent).where(CallEvent.call_id == call_id)).one()
        assert event.at.tzinfo is not None and event.at.utcoffset() == timedelta(0)
        assert event.at == local
        assert event.at.hour == 9  # 10:30 in Paris in winter is 09:30 UTC
        call = session.get(Call, call_id)
        assert call is not None and call.started_at.utcoffset() == timedelta(0)
        # Filtering with an aware bound in another zone compares instants, not wall-clock strings.
        later = session.exec(select(CallEvent).where(CallEvent.at >= local - timedelta(seconds=1))).all()
        assert [e.id for e in later] == [event.id]


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    call_id = _new_call(engine)
    with pytest.raises(StatementError, match="timezone"), session_scope(engine) as session:
        record_call_event(session, call_id, "dtmf", at=datetime(2026, 1, 15, 9, 30))


def test_enums_are_stored_as_their_string_value(engine: Engine) -> None:
    with session_scope(engine) as session:
        ticket = create_ticket(session, TicketCreate(subject="Stationnement"))
        change_ticket_status(session, ticket, TicketStatus.WAITING_CALLBACK)
        ticket_id = ticket.id
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT status FROM ticket WHERE id = :id"), {"id": ticket_id}).scalar_one()
    assert raw == "waiting_callback"
    assert type(raw) is str


def test_sqlite_concurrent_read_then_write_units_do_not_fail(tmp_path: Path) -> None:
    """Many threads each reading then writing (as the IVR closes calls): none gets "database is locked"."""
    import threading

    from hotline.storage.models import Call, CallCreate

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                with session_scope(engine) as session:
                    session.exec(select(Call)).all()  # read first...
                    repository.create_call(session, CallCreate(channel_id=f"{n}-{i}", called_number="0800"))
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine, write=False) as session:
        assert len(session.exec(select(Call)).all()) == 8 * 15
    engine.dispose()
