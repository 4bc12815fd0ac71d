"""When things break, no call is dropped and nothing is lost.

- The app is down: the dialplan fallback takes the call and records a message; when the app comes back,
  the call becomes a ticket.
- The ARI events socket drops mid-call: the app reconnects, resyncs, and the call goes on.
"""

from __future__ import annotations

import asyncio
import threading
import time
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import select

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.storage.db import make_engine, session_scope
from hotline.storage.models import Call, Ticket
from tests.e2e.conftest import AsteriskSandbox
from tests.e2e.hotline_proc import free_port, start_hotline
from tests.e2e.sip.caller import place_call
from tests.e2e.sip.pcap import Audio, Dtmf, Silence
from tests.e2e.test_calls import AFTER_ANSWER_MS, CHOOSE_MS, events_of, wait_call_closed

pytestmark = pytest.mark.e2e


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_app_down_the_fallback_takes_the_call_and_it_becomes_a_ticket(
    asterisk: AsteriskSandbox, tmp_path: Path, caller_speech: Path
) -> None:
    caller = "0633000001"
    prompts = asterisk.prompts_dir / "fallback"
    before_message_s = (
        _wav_seconds(prompts / "apology.wav")
        + asterisk.fallback_queue_seconds
        + _wav_seconds(prompts / "leave-message.wav")
    )
    # No app connected: Stasis fails at once and the dialplan answers.
    result = place_call(
        [Silence(int(before_message_s * 1000) + 1500), Audio(caller_speech)],
        from_user=caller,
        target=asterisk.target,
        workdir=tmp_path / "call",
        timeout=120,
    )
    assert result.answered and result.hung_up_by == "caller", result.describe()
    assert result.heard.audible_seconds > 5, result.describe()  # apology and music: never silence
    assert asterisk.wait_no_channels() == []

    proc = start_hotline(asterisk.env, tmp_path / "app")
    try:
        proc.wait_ari(connected=True)
        deadline = time.monotonic() + 15
        engine = make_engine(proc.database_url)
        try:
            while True:
                with session_scope(engine) as s:
                    row = s.exec(select(Call).where(Call.caller_number == caller)).first()
                    ticket = s.exec(select(Ticket).where(Ticket.call_id == row.id)).first() if row else None
                    if ticket is not None:
                        assert row is not None and row.outcome is CallOutcome.FALLBACK
                        assert ticket.outcome is CallOutcome.FALLBACK and ticket.needs_callback
                        assert ticket.status is TicketStatus.WAITING_CALLBACK
                        assert ticket.subject.startswith("Message laissé")
                        break
                assert time.monotonic() < deadline, f"no fallback ticket for {caller}:\n{proc.log_tail()}"
                time.sleep(0.2)
        finally:
            engine.dispose()
    finally:
        proc.stop()


class DroppableProxy:
    """A TCP proxy in front of ARI whose connections the test can cut, as a network blip would."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.drops = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(5)

    async def _serve(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def drop_all(self) -> None:
        def cut() -> None:
            for w in list(self.writers):
                w.transport.abort()
            self.drops += 1

        self.loop.call_soon_threadsafe(cut)

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            for w in list(self.writers):
                w.transport.abort()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def proxy(asterisk: AsteriskSandbox) -> Iterator[DroppableProxy]:
    port = int(asterisk.ari_url.split(":")[2].split("/")[0])
    p = DroppableProxy(port)
    p.start()
    yield p
    p.stop()


def test_events_socket_drops_mid_call_and_the_call_goes_on(
    asterisk: AsteriskSandbox, proxy: DroppableProxy, tmp_path: Path
) -> None:
    caller = "0633000002"
    proc = start_hotline(asterisk.env, tmp_path, HOTLINE_ARI_URL=f"http://127.0.0.1:{proxy.port}/ari")
    try:
        proc.wait_ari(connected=True)
        steps = [Silence(CHOOSE_MS), Dtmf("1"), Silence(AFTER_ANSWER_MS), Dtmf("1")]
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(place_call, steps, from_user=caller, hold_ms=60_000, target=asterisk.target)
            time.sleep(CHOOSE_MS / 1000 + 1.5)  # the answer is playing
            proxy.drop_all()
            result = future.result()
        assert result.answered and result.hung_up_by == "asterisk", result.describe()
        [row] = wait_call_closed(proc, caller)
        assert row.outcome is CallOutcome.SELF_SERVED, [e.kind for e in events_of(proc, row.id)]
        assert proxy.drops == 1
        log = proc.log_path.read_text(errors="replace")
        assert log.count("ARI events socket connected") == 2, log  # once at start, once after the drop
        assert asterisk.wait_no_channels() == []
    finally:
        proc.stop()
