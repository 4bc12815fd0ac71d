"""The Asterisk sandbox for real: up/status/down, ARI, /metrics, agent registration, and the dialplan's fallback
when the ARI app is not connected (apology, queue with music on hold, recorded message; or an agent bridged).

Nothing here connects the ARI app: every call takes the fallback path, which is what is under test.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ivr.asterisk.fallback_audio import wav_seconds
from ivr.speech.g711 import ulaw_decode, ulaw_encode
from tests.e2e.conftest import AgentAccount, AsteriskSandbox, add_agent, disable_agent
from tests.e2e.sip.agent import AgentPhone, register
from tests.e2e.sip.audio import (
    SAMPLE_RATE,
    Heard,
    Samples,
    audible_seconds,
    find_in,
    load_as_8k,
    read_wav,
    tone_seconds,
)
from tests.e2e.sip.caller import place_call, sipp_errors
from tests.e2e.sip.pcap import Audio, Silence, Step, Tone
from tests.e2e.sip.ports import release_block, reserve_block
from tests.e2e.sip.sipp import SipTarget

pytestmark = pytest.mark.e2e

HOTLINE = [sys.executable, "-m", "hotline.cli"]
# A second sandbox, beside the session's, for the lifecycle test: other ports, its own root and data folder.
LIFECYCLE_HTTP_PORT = 18088
LIFECYCLE_SIP_PORT = 15060
AGENT_TONE_HZ = 1000.0  # what the agent phone says: a pure tone, recognisable in what the caller hears
CALLER_TONE_HZ = 700.0  # what the caller says in the bridge test, recognisable in what the agent hears
MIN_TONE_S = 3.0  # of the 6 s each side sends, allowing for ring, answer and bridge set-up
BEEP_MARGIN_MS = 1500  # after the "leave a message" prompt: the beep, then the caller starts speaking


def hotline(
    args: list[str], env: dict[str, str], timeout: float = 600
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([*HOTLINE, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return done, time.monotonic() - started


def random_caller_id() -> str:
    return "06" + "".join(random.choice("0123456789") for _ in range(8))


def sidecar_fields(spool: Path, caller_id: str, timeout: float = 5.0) -> tuple[Path, dict[str, str]]:
    """The one sidecar of this caller's fallback call (written at hangup, so waited for)."""
    deadline = time.monotonic() + timeout
    found = list(spool.glob(f"*-{caller_id}*.txt"))
    while not found and time.monotonic() < deadline:
        time.sleep(0.1)
        found = list(spool.glob(f"*-{caller_id}*.txt"))
    assert len(found) == 1, f"one sidecar for {caller_id} in {spool}: {found}"
    fields = dict(line.split("=", 1) for line in found[0].read_text().splitlines() if "=" in line)
    return found[0], fields


@pytest.fixture
def spool_cleanup(asterisk: AsteriskSandbox) -> Iterator[list[str]]:
    """Caller ids whose fallback files the test removes at the end (they would become tickets in other tests)."""
    callers: list[str] = []
    yield callers
    for caller_id in callers:
        for path in asterisk.fallback_spool_dir.glob(f"*-{caller_id}*"):
            path.unlink(missing_ok=True)


def report(line: str) -> None:
    """Figures for the test report (shown with -s, and in the captured output of a failure)."""
    print(f"[e2e figures] {line}")


# ---- the sandbox itself --------------------------------------------------------------------------------------


def test_session_sandbox_is_up(asterisk: AsteriskSandbox, agents: dict[str, AgentAccount]) -> None:
    if asterisk.up_result is not None:
        t = asterisk.up_result.timings
        report(
            f"session up ({asterisk.up_result.chroot_source}): "
            + ", ".join(f"{key} {value:.2f} s" for key, value in t.items())
        )
    else:
        report("session: Asterisk was already running; reused")
    done, seconds = hotline(["asterisk", "up"], asterisk.env)
    assert done.returncode == 0, done.stderr
    assert "already running" in done.stdout
    report(f"`hotline asterisk up` when already running: {seconds:.2f} s")
    done, _ = hotline(["asterisk", "status", "--json"], asterisk.env)
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(done.stdout)
    assert status["running"] and status["ari_reachable"], status
    assert status["version"].startswith("22."), status
    names = {f"{e['technology']}/{e['resource']}" for e in status["endpoints"]}
    assert {f"PJSIP/{agent}" for agent in agents} | {"PJSIP/carrier"} <= names


def test_lifecycle_restore_up_down_warm_up(tmp_path: Path, asterisk: AsteriskSandbox) -> None:
    """A second machine-level sandbox: restored from the tarball, up twice, down, up again (warm)."""
    tarball = asterisk.settings.asterisk_tarball
    chroot_mode = asterisk.state.mode == "chroot"
    if chroot_mode:
        assert tarball.exists(), f"the session's `up` should have cached the chroot as {tarball}"
    root = tmp_path / "asterisk-root"
    env = {
        **asterisk.env,
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_ASTERISK_ROOT": str(root),
        "HOTLINE_ARI_URL": f"http://127.0.0.1:{LIFECYCLE_HTTP_PORT}/ari",
        "HOTLINE_SIP_BIND": f"127.0.0.1:{LIFECYCLE_SIP_PORT}",
    }
    try:
        done, _ = hotline(["asterisk", "status"], env)
        assert done.returncode == 3, done.stdout
        assert "not running" in done.stdout

        done, restore_s = hotline(["asterisk", "up"], env)
        assert done.returncode == 0, done.stdout + done.stderr
        if chroot_mode:
            assert "restored from" in done.stdout, done.stdout
        ari_ready = re.search(r"ARI ready at \S+ after ([\d.]+) s", done.stdout)
        assert ari_ready, done.stdout
        report(
            f"up, chroot restored from the tarball: {restore_s:.1f} s (ARI ready {ari_ready.group(1)} s after start)"
        )

        done, again_s = hotline(["asterisk", "up"], env)
        assert done.returncode == 0 and "already running" in done.stdout, done.stdout
        report(f"up again while running: {again_s:.2f} s")

        info = httpx.get(f"http://127.0.0.1:{LIFECYCLE_HTTP_PORT}/ari/asterisk/info", auth=asterisk.ari_auth, timeout=5)
        assert info.status_code == 200
        # An agent's phone pushed now must still be there after the restart below (Asterisk keeps it in astdb).
        agent_env = {**env, "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'agents.db'}"}
        account = add_agent(agent_env, "e2e-lifecycle")

        done, down_s = hotline(["asterisk", "down"], env)
        assert done.returncode == 0, done.stdout + done.stderr
        report(f"down: {down_s:.2f} s")
        done, _ = hotline(["asterisk", "status"], env)
        assert done.returncode == 3, done.stdout

        done, warm_s = hotline(["asterisk", "up"], env)
        assert done.returncode == 0, done.stdout + done.stderr
        ari_ready = re.search(r"ARI ready at \S+ after ([\d.]+) s", done.stdout)
        assert ari_ready, done.stdout
        report(f"up, warm (chroot present): {warm_s:.2f} s (ARI ready {ari_ready.group(1)} s after start)")
        assert warm_s < restore_s or not chroot_mode
        done, _ = hotline(["asterisk", "status"], env)
        assert done.returncode == 0, done.stdout
        target = SipTarget("127.0.0.1", LIFECYCLE_SIP_PORT, asterisk.target.number)
        port = reserve_block(1, align=1)
        try:
            again = register("e2e-lifecycle", account.sip_password, port=port, target=target, workdir=tmp_path / "r")
            assert again.ok, f"the phone pushed before the restart registers after it: {again}"
            register("e2e-lifecycle", account.sip_password, port=port, expires=0, target=target, workdir=tmp_path / "r")
        finally:
            release_block(port, 1)
    finally:
        hotline(["asterisk", "down"], env)
        mounts = Path("/proc/mounts").read_text()
        assert f" {root}/" not in mounts
        shutil.rmtree(root, ignore_errors=True)  # 500 MB: not kept among pytest's last three tmp folders


def test_ari_answers_with_its_credentials_only(asterisk: AsteriskSandbox) -> None:
    with asterisk.ari() as client:
        info = client.get("/asterisk/info")
        assert info.status_code == 200
        assert info.json()["system"]["version"].startswith("22.")
    refused = httpx.get(f"{asterisk.ari_url}/asterisk/info", auth=(asterisk.ari_auth[0], "wrong"), timeout=5)
    assert refused.status_code == 401


def test_prometheus_metrics(asterisk: AsteriskSandbox, agents: dict[str, AgentAccount]) -> None:
    response = httpx.get(f"{asterisk.http_base}/metrics", timeout=5)
    assert response.status_code == 200
    text = response.text
    assert re.search(r"^asterisk_core_uptime_seconds\{.*\} \d+", text, re.MULTILINE), text[:500]
    for agent in agents:
        assert f'id="PJSIP/{agent}"' in text
    assert "asterisk_channels_count" in text


# ---- SIP: agents -----------------------------------------------------------------------------------------------


def test_agent_registers_with_digest_auth_and_a_wrong_password_is_refused(
    tmp_path: Path, asterisk: AsteriskSandbox, agents: dict[str, AgentAccount]
) -> None:
    agent, password = next((a.login, a.sip_password) for a in agents.values())
    port = reserve_block(1, align=1)
    try:
        assert asterisk.endpoint_state(agent) == "offline"
        refused = register(agent, password + "-wrong", port=port, target=asterisk.target, workdir=tmp_path / "bad")
        assert not refused.ok
        assert refused.status in (401, 403), refused
        assert asterisk.endpoint_state(agent) == "offline"

        accepted = register(agent, password, port=port, target=asterisk.target, workdir=tmp_path / "good")
        assert accepted.ok, accepted
        assert asterisk.endpoint_state(agent) == "online"
        challenged = [m for m in accepted.messages if m.status == 401]
        assert challenged and "Digest" in challenged[0].text, "the first REGISTER must be challenged"

        gone = register(agent, password, port=port, expires=0, target=asterisk.target, workdir=tmp_path / "good")
        assert gone.ok
        assert asterisk.endpoint_state(agent) == "offline"
    finally:
        register(agent, password, port=port, expires=0, target=asterisk.target, workdir=tmp_path / "cleanup")
        release_block(port, 1)


def _startup_time(asterisk: AsteriskSandbox) -> str:
    with asterisk.ari() as client:
        return str(client.get("/asterisk/info").json()["status"]["startup_time"])


def test_agent_added_registers_at_once_and_disabled_is_refused(
    tmp_path: Path, asterisk: AsteriskSandbox, agents_env: dict[str, str]
) -> None:
    """`hotline agent add` pushes the phone through ARI: it registers on the first try, with no Asterisk restart;
    `hotline agent disable` removes it: the same credentials are then refused."""
    login = f"e2e-new-{random.randrange(10**6)}"
    booted = _startup_time(asterisk)
    started = time.monotonic()
    account = add_agent(agents_env, login, "--skills", "dechets,eau")
    added_s = time.monotonic() - started
    port = reserve_block(1, align=1)
    try:
        assert asterisk.endpoint_state(login) == "offline"
        accepted = register(login, account.sip_password, port=port, target=asterisk.target, workdir=tmp_path / "a")
        registered_s = time.monotonic() - started
        assert accepted.ok, accepted
        assert asterisk.endpoint_state(login) == "online"
        report(f"agent add: {added_s:.2f} s; first REGISTER accepted {registered_s:.2f} s after the command started")
        assert registered_s <= 5.0
        register(login, account.sip_password, port=port, expires=0, target=asterisk.target, workdir=tmp_path / "a")

        disable_agent(agents_env, login)
        with asterisk.ari() as client:
            assert client.get(f"/endpoints/PJSIP/{login}").status_code == 404
        refused = register(login, account.sip_password, port=port, target=asterisk.target, workdir=tmp_path / "b")
        assert not refused.ok and refused.status in (401, 403, 404), refused
        assert _startup_time(asterisk) == booted, "Asterisk was not restarted"
    finally:
        register(login, account.sip_password, port=port, expires=0, target=asterisk.target, workdir=tmp_path / "c")
        release_block(port, 1)


# ---- SIP: the fallback when the ARI app is not connected -------------------------------------------------------


def _prompt_seconds(asterisk: AsteriskSandbox, name: str) -> float:
    path = asterisk.prompts_dir / "fallback" / f"{name}.wav"
    assert path.exists(), f"`up` should have generated {path} (espeak-ng + sox)"
    return wav_seconds(path)


def _prompt(asterisk: AsteriskSandbox, name: str) -> Samples:
    return read_wav(asterisk.prompts_dir / "fallback" / f"{name}.wav")[0]


def _segment(samples: Samples, start_s: float, end_s: float) -> Heard:
    return Heard.of(samples[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)])


def test_other_numbers_are_refused(tmp_path: Path, asterisk: AsteriskSandbox) -> None:
    from dataclasses import replace

    result = place_call([Silence(1000)], target=replace(asterisk.target, number="0899999999"), workdir=tmp_path)
    assert not result.answered
    assert result.sip_status == 404, result.describe()
    assert asterisk.wait_no_channels() == []


def test_fallback_apology_queue_then_recorded_message(
    tmp_path: Path,
    asterisk: AsteriskSandbox,
    agents: dict[str, AgentAccount],
    caller_speech: Path,
    spool_cleanup: list[str],
) -> None:
    """App not connected, no agent registered: apology, queue with music on hold until it times out, message."""
    for agent in agents:
        assert asterisk.endpoint_state(agent) == "offline", f"{agent} is registered: the queue would ring it"
    apology_s = _prompt_seconds(asterisk, "apology")
    leave_s = _prompt_seconds(asterisk, "leave-message")
    goodbye_s = _prompt_seconds(asterisk, "goodbye")
    queue_s = asterisk.fallback_queue_seconds
    before_message_s = apology_s + queue_s + leave_s
    speech_s = len(load_as_8k(caller_speech)) / SAMPLE_RATE
    caller_id = random_caller_id()
    spool_cleanup.append(caller_id)
    steps: list[Step] = [Silence(int(before_message_s * 1000) + BEEP_MARGIN_MS), Audio(caller_speech), Silence(9000)]
    started = time.time()

    result = place_call(
        steps,
        from_user=caller_id,
        hold_ms=int((before_message_s + speech_s + goodbye_s) * 1000) + 30_000,
        target=asterisk.target,
        workdir=tmp_path / "call",
        timeout=180,
    )

    assert result.sipp_exit_code == 0, result.describe() + "\n" + sipp_errors(result)
    assert result.answered and result.sip_status == 200, result.describe()
    assert result.hung_up_by == "asterisk", "after the goodbye, Asterisk hangs up: " + result.describe()
    heard = result.samples
    apology = _segment(heard, 0, apology_s)
    hold_music = _segment(heard, apology_s + 0.5, apology_s + queue_s - 0.5)
    until_beep = _segment(heard, 0, before_message_s)
    report(f"fallback call: heard {result.heard}; apology {apology}; queue {hold_music}; until the beep {until_beep}")
    assert apology.audible_seconds >= 0.6 * apology_s and apology.audible_seconds >= 5, apology
    assert hold_music.audible_seconds >= 0.8 * (queue_s - 1), f"music on hold in the queue: {hold_music}"
    assert until_beep.longest_silence_seconds < 2.0, f"nobody hears silence: {until_beep}"
    goodbye = _segment(heard, before_message_s + speech_s, len(heard) / SAMPLE_RATE)
    assert goodbye.audible_seconds >= 0.5 * goodbye_s, f"the goodbye: {goodbye}"
    apology_at, apology_match = find_in(heard[: int((apology_s + 3) * SAMPLE_RATE)], _prompt(asterisk, "apology"))
    # the last packets of the goodbye race the hang-up: its first seconds are enough to recognise it
    goodbye_at, goodbye_match = find_in(heard, _prompt(asterisk, "goodbye")[: 3 * SAMPLE_RATE])
    report(f"heard apology.wav at {apology_at:.2f} s (match {apology_match:.3f}), goodbye.wav at {goodbye_at:.1f} s "
           f"(match {goodbye_match:.3f})")  # fmt: skip
    assert apology_match > 0.9 and apology_at < 1.0, "the caller hears the apology prompt itself, at once"
    assert goodbye_match > 0.9 and goodbye_at > before_message_s + speech_s

    recordings = [p for p in asterisk.fallback_spool_dir.glob(f"*-{caller_id}.wav") if p.stat().st_mtime >= started - 1]
    assert len(recordings) == 1, f"one recording for {caller_id} in {asterisk.fallback_spool_dir}"
    recording = recordings[0]
    epoch = int(recording.name.split("-")[0])
    assert started - 5 <= epoch <= time.time(), recording.name
    samples, rate = read_wav(recording)
    recorded = Heard.of(samples)
    spoken = audible_seconds(load_as_8k(caller_speech))
    report(f"recording {recording.name}: {recorded} (the caller spoke {spoken:.1f} s of {speech_s:.1f} s)")
    assert rate == SAMPLE_RATE
    assert recorded.audible_seconds >= 3.0 and recorded.audible_seconds >= 0.7 * spoken, recorded
    sent = ulaw_decode(ulaw_encode(load_as_8k(caller_speech)))  # what went down the line
    offset, match = find_in(samples, sent)
    report(f"the caller's speech is in the recording at {offset:.2f} s (match {match:.3f})")
    assert match > 0.9, "the recording holds the caller's own audio"

    sidecar, fields = sidecar_fields(asterisk.fallback_spool_dir, caller_id)
    assert sidecar == recording.with_suffix(".txt")
    assert fields["caller_id"] == caller_id
    assert fields["epoch"] == str(epoch)
    assert fields["dialled"] == asterisk.state.toll_free_number
    assert fields["queue_status"] == "TIMEOUT" and fields["answered_by"] == ""
    assert fields["record_status"] == "SILENCE"
    assert fields["recording"].endswith(recording.name)
    assert int(fields["size_bytes"]) == recording.stat().st_size
    assert asterisk.wait_no_channels() == [], "channels left behind"


def test_any_caller_id_reaches_the_hotline(tmp_path: Path, asterisk: AsteriskSandbox, spool_cleanup: list[str]) -> None:
    """The carrier is identified by address: an unknown or odd From user still gets the hotline. A caller who
    hangs up during the apology still leaves a sidecar (a ticket to call back), without a recording."""
    international = "+336" + random_caller_id()[2:]
    spool_cleanup.append(international)
    started = time.time()
    for from_user in ("anonymous", international):
        result = place_call([Silence(3000)], from_user=from_user, target=asterisk.target, workdir=tmp_path / from_user)
        assert result.answered, result.describe()
        assert result.hung_up_by == "caller"
        assert result.heard.audible_seconds >= 2.0, f"the apology starts at once: {result.describe()}"
    assert asterisk.wait_no_channels() == []
    sidecar, fields = sidecar_fields(asterisk.fallback_spool_dir, international)
    assert fields["caller_id"] == international
    assert fields["record_status"] == "NONE" and fields["recording"] == "" and fields["size_bytes"] == "0"
    assert not sidecar.with_suffix(".wav").exists()
    anonymous = [p for p in asterisk.fallback_spool_dir.glob("*-anonymous-*.txt") if p.stat().st_mtime >= started - 1]
    assert len(anonymous) == 1, anonymous  # <epoch>-anonymous-<uniqueid>.txt
    assert "caller_id=anonymous\n" in anonymous[0].read_text()
    anonymous[0].unlink()


def test_fallback_queue_rings_a_registered_agent_and_bridges(
    tmp_path: Path, asterisk: AsteriskSandbox, agents: dict[str, AgentAccount], spool_cleanup: list[str]
) -> None:
    """The agent was added with `hotline agent add` (pushed through ARI): the fallback queue rings that phone."""
    agent, password = next((a.login, a.sip_password) for a in agents.values())
    apology_s = _prompt_seconds(asterisk, "apology")
    caller_id = random_caller_id()
    spool_cleanup.append(caller_id)
    phone = AgentPhone(
        agent, password, talk=[Tone(AGENT_TONE_HZ, 6000)], hold_ms=6000, target=asterisk.target,
        workdir=tmp_path / "agent",
    )  # fmt: skip
    with phone:
        assert asterisk.endpoint_state(agent) == "online"
        result = place_call(
            [Tone(CALLER_TONE_HZ, int((apology_s + 12) * 1000))],
            from_user=caller_id,
            hold_ms=int((apology_s + 30) * 1000),
            target=asterisk.target,
            workdir=tmp_path / "call",
        )
        phone.wait_call(10)
    agent_result = phone.stop()

    caller_heard_agent = tone_seconds(result.samples, AGENT_TONE_HZ)
    agent_heard_caller = tone_seconds(agent_result.samples, CALLER_TONE_HZ)
    report(
        f"queue → {agent}: caller heard the agent {caller_heard_agent:.1f} s, agent heard the caller "
        f"{agent_heard_caller:.1f} s; caller {result.heard}; agent {agent_result.heard}"
    )
    assert result.answered and result.sipp_exit_code == 0, result.describe() + "\n" + sipp_errors(result)
    assert agent_result.calls_answered == 1, f"the agent's phone rang and answered once: {agent_result}"
    assert caller_heard_agent >= MIN_TONE_S, result.describe()
    assert agent_heard_caller >= MIN_TONE_S, agent_result
    assert result.hung_up_by == "asterisk", "the agent hung up, so Asterisk ends the caller's leg"
    assert agent_result.hung_up_by == "agent"
    sidecar, fields = sidecar_fields(asterisk.fallback_spool_dir, caller_id)
    assert fields["answered_by"] == agent and fields["record_status"] == "NONE", fields
    assert not sidecar.with_suffix(".wav").exists(), "an answered call leaves no message"
    assert asterisk.endpoint_state(agent) == "offline", "stop() unregisters"
    assert asterisk.wait_no_channels() == [], "channels left behind"


def test_concurrent_callers_each_hear_the_apology(
    tmp_path: Path, asterisk: AsteriskSandbox, spool_cleanup: list[str]
) -> None:
    """place_call from threads: each call has its own ports and capture."""
    from concurrent.futures import ThreadPoolExecutor

    callers = [random_caller_id() for _ in range(4)]
    spool_cleanup.extend(callers)

    def one(i: int) -> tuple[bool, float]:
        r = place_call([Silence(4000)], from_user=callers[i], target=asterisk.target, workdir=tmp_path / str(i))
        return r.answered, r.heard.audible_seconds

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(one, range(4)))
    report(f"4 concurrent callers: answered/audible s = {outcomes}")
    assert all(answered and audible >= 3.0 for answered, audible in outcomes), outcomes
    assert asterisk.wait_no_channels() == []


def test_load_runner_counts_calls(tmp_path: Path, asterisk: AsteriskSandbox, spool_cleanup: list[str]) -> None:
    from tests.e2e.sip.load import run_load

    prefix = random_caller_id()[:6]
    spool_cleanup.append(prefix)  # the callers are <prefix><call number>
    result = run_load(
        [Tone(CALLER_TONE_HZ, 2000)], calls=6, concurrent=3, rate=3, hold_ms=2500, target=asterisk.target,
        workdir=tmp_path, from_user=prefix + "[call_number]",
    )  # fmt: skip
    report(
        f"load: {result.successful}/{result.calls} OK, {result.failed} failed, response p50 "
        f"{result.percentile(50)} ms p99 {result.percentile(99)} ms, {result.elapsed_s:.1f} s"
    )
    assert (result.created, result.successful, result.failed) == (6, 6, 0)
    assert len(result.response_times_ms) == 6
    assert result.sipp_exit_code == 0
    assert asterisk.wait_no_channels() == []


def test_no_process_left_behind() -> None:
    """Every sipp and tcpdump the helpers started has been stopped (by pid)."""
    mine = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and cmdline and Path(cmdline[0].decode()).name in ("sipp", "tcpdump"):
            mine.append(cmdline)
    assert mine == []
