"""An agent's SIP phone: REGISTERs with digest auth, rings, answers by itself, talks, and records what it hears.

Two sipp processes share one UDP port, one after the other: a UAC sends the REGISTER (Asterisk's aor then
points at that port, rewrite_contact = yes), exits, and a UAS takes the port to answer the INVITE. `stop()`
unregisters (Expires: 0) the same way, so a test leaves no contact behind for the next one.

    with AgentPhone("agent1", "agent1pw", talk=[Tone(1000, 6000)], hold_ms=6000) as phone:
        ... place a call that reaches the agent ...
        phone.wait_call(30)
    phone.result.heard  # what the agent heard
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hotline.settings import Settings
from tests.e2e.sip.audio import Heard, Samples, read_wav
from tests.e2e.sip.capture import RtpCapture
from tests.e2e.sip.pcap import Silence, Step, write_caller_pcap
from tests.e2e.sip.ports import MEDIA_BLOCK, release_block, reserve_block
from tests.e2e.sip.sipp import (
    SipMessage,
    SipTarget,
    final_status,
    read_messages,
    render_scenario,
    sipp_binary,
    stop_process,
    tail,
)

REGISTER_TIMEOUT_S = 15.0
DEFAULT_EXPIRES_S = 3600  # longer than any test: no re-registration happens during one
ANSWER_AFTER_MS = 300  # rings briefly, like a person picking up at once


class AgentRegistrationFailed(AssertionError):
    """The REGISTER was refused or got no answer."""


@dataclass(frozen=True)
class Registration:
    agent: str
    status: int | None  # the final response to the authenticated REGISTER (200 OK, 401, 403, ...)
    sipp_exit_code: int
    messages: list[SipMessage]

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.sipp_exit_code == 0


def register(
    agent: str,
    password: str,
    *,
    port: int,
    expires: int = DEFAULT_EXPIRES_S,
    target: SipTarget | None = None,
    workdir: Path | None = None,
) -> Registration:
    """One REGISTER transaction (with the digest challenge) from 127.0.0.1:`port`; Expires 0 unregisters."""
    target = target or SipTarget.from_settings(Settings())
    workdir = workdir or Path(tempfile.mkdtemp(prefix=f"hotline-{agent}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    tag = "register" if expires else "unregister"
    scenario = render_scenario("register.xml.in", workdir / f"{tag}.xml", {"AGENT": agent, "EXPIRES": str(expires)})
    log = workdir / f"{tag}-messages.log"
    log.unlink(missing_ok=True)
    command = [
        sipp_binary(), target.address, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
        "-au", agent, "-ap", password, "-m", "1", "-nostdin", "-timeout", f"{REGISTER_TIMEOUT_S:.0f}s",
        "-timeout_error", "-trace_msg", "-message_file", str(log),
        "-trace_err", "-error_file", str(workdir / f"{tag}-errors.log"),
    ]  # fmt: skip
    with (workdir / f"{tag}.out").open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        code = process.wait(REGISTER_TIMEOUT_S + 10)
    except subprocess.TimeoutExpired:
        code = -9
    finally:
        stop_process(process)
    messages = read_messages(log)
    return Registration(agent, final_status(messages, "REGISTER"), code, messages)


@dataclass(frozen=True)
class AgentResult:
    calls_answered: int
    hung_up_by: str | None  # "agent" or "asterisk"
    received_wav: Path
    heard: Heard
    received_packets: int
    workdir: Path

    @property
    def samples(self) -> Samples:
        return read_wav(self.received_wav)[0]


class AgentPhone:
    """A registered, auto-answering agent phone for one call (see the module docstring)."""

    def __init__(
        self,
        agent: str,
        password: str,
        *,
        talk: Sequence[Step] = (Silence(1000),),
        hold_ms: int = 10_000,
        answer_after_ms: int = ANSWER_AFTER_MS,
        target: SipTarget | None = None,
        workdir: Path | None = None,
        calls: int = 1,
        sip_port: int | None = None,
        registers: bool = True,
    ) -> None:
        """`calls`: how many calls it answers, one after the other. `sip_port` and `registers=False`: a phone
        the PBX reaches at a fixed address with no registration (a citizen behind the carrier trunk)."""
        self.agent = agent
        self.calls = calls
        self.registers = registers
        self.own_port = sip_port is None
        self.password = password
        self.talk = list(talk)
        self.hold_ms = hold_ms
        self.answer_after_ms = answer_after_ms
        self.target = target or SipTarget.from_settings(Settings())
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"hotline-{agent}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = reserve_block(1, align=1) if sip_port is None else sip_port
        self.media_port = reserve_block(MEDIA_BLOCK)
        self.capture = RtpCapture(self.media_port, self.workdir / "received.pcap")
        self.process: subprocess.Popen[bytes] | None = None
        self.registration: Registration | None = None
        self.result: AgentResult | None = None

    def start(self) -> Registration:
        """Register (raises AgentRegistrationFailed if refused), then wait for a call."""
        self.registration = (
            register(self.agent, self.password, port=self.sip_port, target=self.target, workdir=self.workdir)
            if self.registers
            else Registration(self.agent, 200, 0, [])
        )
        if not self.registration.ok:
            self._release()
            raise AgentRegistrationFailed(
                f"{self.agent} could not register: SIP {self.registration.status}, sipp exit "
                f"{self.registration.sipp_exit_code}; {tail(self.workdir / 'register-errors.log')}"
            )
        pcap = write_caller_pcap(self.talk, self.workdir / "agent.pcap")
        scenario = render_scenario(
            "uas_agent.xml.in",
            self.workdir / "uas_agent.xml",
            {
                "AGENT": self.agent,
                "PCAP": str(pcap.path),
                "HOLD_MS": str(self.hold_ms),
                "ANSWER_AFTER_MS": str(self.answer_after_ms),
            },
        )
        self.capture.start()
        command = [
            sipp_binary(), "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.sip_port),
            "-mi", "127.0.0.1", "-mp", str(self.media_port), "-m", str(self.calls), "-nostdin",
            "-trace_msg", "-message_file", str(self.workdir / "uas-messages.log"),
            "-trace_err", "-error_file", str(self.workdir / "uas-errors.log"),
        ]  # fmt: skip
        with (self.workdir / "uas.out").open("wb") as out:
            self.process = subprocess.Popen(command, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        return self.registration

    def wait_call(self, timeout: float) -> bool:
        """Wait until the phone's one call is over; False on timeout."""
        if self.process is None:
            return False
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> AgentResult:
        """Stop the phone, unregister, and decode what it heard. Safe to call twice."""
        if self.result is not None:
            return self.result
        if self.process is not None:
            stop_process(self.process)
        self.capture.stop()
        if self.registers and self.registration is not None and self.registration.ok:
            register(self.agent, self.password, port=self.sip_port, expires=0, target=self.target, workdir=self.workdir)
        self._release()
        decoded = self.capture.decode(self.workdir / "received.wav")
        messages = read_messages(self.workdir / "uas-messages.log")
        answered = sum(1 for m in messages if m.direction == "sent" and m.status == 200 and m.method == "INVITE")
        hung_up_by = None
        if any(m.direction == "received" and m.method == "BYE" and m.status is None for m in messages):
            hung_up_by = "asterisk"
        elif any(m.direction == "sent" and m.method == "BYE" and m.status is None for m in messages):
            hung_up_by = "agent"
        self.result = AgentResult(
            calls_answered=answered,
            hung_up_by=hung_up_by,
            received_wav=self.workdir / "received.wav",
            heard=Heard.of(decoded.samples),
            received_packets=decoded.packets,
            workdir=self.workdir,
        )
        return self.result

    def _release(self) -> None:
        if self.own_port:
            release_block(self.sip_port, 1)
        release_block(self.media_port, MEDIA_BLOCK)

    def __enter__(self) -> AgentPhone:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
