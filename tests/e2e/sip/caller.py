"""A citizen's call: sipp dials the toll-free number, replays the caller's RTP, and tcpdump records what comes back.

    result = place_call([Silence(2000), Dtmf("1"), Audio(question_wav)], hold_ms=20_000)
    assert result.answered and result.heard.audible_seconds > 3

Each call has its own SIP port and media ports, so calls can run at once from threads. Every process started
(sipp, tcpdump) is stopped by its pid before `place_call` returns, also on errors and timeouts.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hotline.settings import Settings
from tests.e2e.sip.audio import Heard, Samples, read_wav
from tests.e2e.sip.capture import RtpCapture
from tests.e2e.sip.pcap import Step, write_caller_pcap
from tests.e2e.sip.ports import MEDIA_BLOCK, release_block, reserve_block
from tests.e2e.sip.sipp import (
    SipTarget,
    final_status,
    read_messages,
    render_scenario,
    sipp_binary,
    stop_process,
    tail,
)

DEFAULT_FROM_USER = "0612345678"
ANSWER_TIMEOUT_MS = 30_000  # the dialplan answers at once; 30 s catches a stuck Asterisk, not a slow one
HOLD_AFTER_STEPS_MS = 1_000  # by default the caller stays a second after its last step, then hangs up
PROCESS_GRACE_S = 15.0  # beyond sipp's own -timeout, before the process is killed

HungUpBy = Literal["caller", "asterisk"]


@dataclass(frozen=True)
class CallResult:
    sipp_exit_code: int
    sip_status: int | None  # final response to the INVITE (200 when answered)
    answered: bool
    hung_up_by: HungUpBy | None  # None: the call never got that far
    received_wav: Path  # what the caller heard, 8 kHz 16-bit mono, on the call's time line
    heard: Heard
    received_packets: int
    received_dtmf: str
    workdir: Path  # sipp's scenario, logs and the capture, for a failing test's message
    media_port: int = 0  # the caller's RTP port (the capture holds both ways with `capture_sent`)

    @property
    def capture(self) -> Path:
        return self.workdir / "received.pcap"

    @property
    def samples(self) -> Samples:
        return read_wav(self.received_wav)[0]

    def describe(self) -> str:
        return (
            f"sipp exit {self.sipp_exit_code}, SIP {self.sip_status}, answered {self.answered}, hung up by "
            f"{self.hung_up_by}; heard {self.heard} ({self.received_packets} RTP packets); files in {self.workdir}"
        )


def place_call(
    steps: Sequence[Step],
    *,
    from_user: str = DEFAULT_FROM_USER,
    hold_ms: int | None = None,
    timeout: float = 120.0,
    target: SipTarget | None = None,
    workdir: Path | None = None,
    capture_sent: bool = False,
) -> CallResult:
    """Call the hotline, play `steps`, stay `hold_ms` after the answer (unless Asterisk hangs up first).

    `hold_ms` defaults to the steps' duration plus a second. `timeout` bounds the whole call (sipp's -timeout).
    `capture_sent` also records the caller's own RTP (timing turns: see tests.e2e.sip.latency).
    """
    target = target or SipTarget.from_settings(Settings())
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hotline-call-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = write_caller_pcap(steps, workdir / "caller.pcap")
    hold = hold_ms if hold_ms is not None else pcap.duration_ms + HOLD_AFTER_STEPS_MS
    scenario = render_scenario(
        "uac_hotline.xml.in",
        workdir / "uac_hotline.xml",
        {
            "PCAP": str(pcap.path),
            "HOLD_MS": str(hold),
            "FROM_USER": from_user,
            "ANSWER_TIMEOUT_MS": str(ANSWER_TIMEOUT_MS),
        },
    )
    sip_port = reserve_block(1, align=1)
    media_port = reserve_block(MEDIA_BLOCK)
    capture = RtpCapture(media_port, workdir / "received.pcap", both_ways=capture_sent)
    messages_log = workdir / "sip-messages.log"
    sipp: subprocess.Popen[bytes] | None = None
    exit_code = -1
    try:
        capture.start()
        command = [
            sipp_binary(), target.address, "-sf", str(scenario), "-s", target.number,
            "-i", "127.0.0.1", "-p", str(sip_port), "-mi", "127.0.0.1", "-mp", str(media_port),
            "-m", "1", "-nostdin", "-timeout", f"{timeout:.0f}s", "-timeout_error",
            "-trace_msg", "-message_file", str(messages_log),
            "-trace_err", "-error_file", str(workdir / "sipp-errors.log"),
        ]  # fmt: skip
        with (workdir / "sipp.out").open("wb") as out:
            sipp = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            exit_code = sipp.wait(timeout + PROCESS_GRACE_S)
        except subprocess.TimeoutExpired:
            stop_process(sipp)
            exit_code = -9
    finally:
        if sipp is not None:
            stop_process(sipp)
        capture.stop()
        release_block(sip_port, 1)
        release_block(media_port, MEDIA_BLOCK)
    decoded = capture.decode(workdir / "received.wav")
    messages = read_messages(messages_log)
    status = final_status(messages, "INVITE")
    hung_up_by: HungUpBy | None = None
    if any(m.direction == "received" and m.method == "BYE" and m.status is None for m in messages):
        hung_up_by = "asterisk"
    elif any(m.direction == "sent" and m.method == "BYE" and m.status is None for m in messages):
        hung_up_by = "caller"
    return CallResult(
        sipp_exit_code=exit_code,
        sip_status=status,
        answered=status == 200,
        hung_up_by=hung_up_by,
        received_wav=workdir / "received.wav",
        heard=Heard.of(decoded.samples),
        received_packets=decoded.packets,
        received_dtmf=decoded.dtmf,
        workdir=workdir,
        media_port=media_port,
    )


def sipp_errors(result: CallResult) -> str:
    """The end of sipp's error log and output, for assertion messages."""
    return tail(result.workdir / "sipp-errors.log") + "\n" + tail(result.workdir / "sipp.out", 10)
