"""The Asterisk configuration rendered from Settings, compose.yaml's consistency with it, and the sandbox's refusals.

No Asterisk runs here (tests/e2e/test_sandbox.py runs the real one): these check what is written and said.
"""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from hotline.cli import asterisk_commands
from hotline.cli.main import app
from hotline.settings import Settings, get_settings
from ivr.asterisk.config import (
    CONFIG_FILES,
    DEFAULT_FALLBACK_SPOOL_DIR,
    AsteriskConfig,
    ConfigError,
    http_bind_from_url,
    render_config,
)
from ivr.asterisk.sandbox import HostAsterisk, Sandbox, SandboxNeedsRoot, find_host_asterisk

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose.yaml"

Section = tuple[str, dict[str, list[str]]]


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """The CLI reads get_settings(), which is cached: each test's environment must be read anew."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def parse_conf(text: str) -> list[Section]:
    """Asterisk's .conf syntax, enough for these checks: [name](templates), `key = value` / `key => value`."""
    sections: list[Section] = []
    for raw in text.splitlines():
        line = re.sub(r"(?<!\\);.*", "", raw).strip()
        if not line:
            continue
        header = re.match(r"^\[([^\]]+)\](\(.*\))?$", line)
        if header:
            sections.append((header.group(1), {}))
            continue
        key, _, value = re.split(r"\s*(=>|=)\s*", line, maxsplit=1)
        sections[-1][1].setdefault(key.strip(), []).append(value.strip())
    return sections


def section(sections: list[Section], name: str, type_: str | None = None) -> dict[str, list[str]]:
    found = [body for n, body in sections if n == name and (type_ is None or body.get("type") == [type_])]
    assert len(found) == 1, f"[{name}] type={type_}: {len(found)} sections"
    return found[0]


def custom_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "ari_url": "http://127.0.0.1:8090/ari",
        "ari_user": "ivr",
        "ari_password": SecretStr("s3cr;et"),
        "ari_app": "numvert",
        "toll_free_number": "0805123456",
        "sip_bind": "127.0.0.1:5070",
        "prompts_dir_in_asterisk": "/srv/hotline/sounds",
        "fallback_queue_seconds": 12,
        "asterisk_root": tmp_path / "root",
        "asterisk_tarball": tmp_path / "root.tar.zst",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


# ---- rendering -------------------------------------------------------------------------------------------------


def test_every_file_renders_without_leftovers(tmp_path: Path) -> None:
    files = render_config(AsteriskConfig.from_settings(custom_settings(tmp_path)))
    assert set(files) == set(CONFIG_FILES)
    for name, text in files.items():
        assert "{{" not in text and "{%" not in text, name
        parse_conf(text)  # every file is valid .conf syntax


def test_custom_settings_land_in_the_files(tmp_path: Path) -> None:
    files = render_config(AsteriskConfig.from_settings(custom_settings(tmp_path)))

    ari = parse_conf(files["ari.conf"])
    user = section(ari, "ivr")
    assert user["type"] == ["user"] and user["read_only"] == ["no"]
    assert user["password"] == [r"s3cr\;et"]  # ';' would start a comment
    assert "password = s3cr\\;et" in files["ari.conf"]

    http = section(parse_conf(files["http.conf"]), "general")
    assert http["bindaddr"] == ["127.0.0.1"] and http["bindport"] == ["8090"]
    assert http["sessionlimit"] == ["1000"] and http["enabled"] == ["yes"]

    pjsip = parse_conf(files["pjsip.conf"])
    assert section(pjsip, "global")["endpoint_identifier_order"] == ["username,ip"]
    assert section(pjsip, "transport-udp")["bind"] == ["127.0.0.1:5070"]
    common = section(pjsip, "endpoint-common")
    assert common["language"] == ["fr"] and common["allow"] == ["ulaw,alaw"] and common["disallow"] == ["all"]
    assert common["dtmf_mode"] == ["rfc4733"] and common["direct_media"] == ["no"]
    assert common["rtp_symmetric"] == ["yes"]
    carrier = [body for name, body in pjsip if name == "carrier"]
    assert any(b.get("context") == ["from-carrier"] and "auth" not in b for b in carrier)
    identify = section(pjsip, "carrier", "identify")
    assert identify["endpoint"] == ["carrier"] and identify["match"] == ["127.0.0.1"]
    # The agents' phones are pushed through ARI into astdb, never written in pjsip.conf.
    assert {name for name, _ in pjsip} == {"global", "transport-udp", "endpoint-common", "carrier"}
    assert "password" not in files["pjsip.conf"]
    sorcery = section(parse_conf(files["sorcery.conf"]), "res_pjsip")
    for kind in ("endpoint", "aor", "auth"):
        assert sorcery[kind] == [f"config,pjsip.conf,criteria=type={kind}", f"astdb,hotline-{kind}"], kind

    dialplan = files["extensions.conf"]
    for number in ("0805123456", "+33805123456", "33805123456"):
        assert f"exten => {number},1," in dialplan
    assert "Stasis(numvert)" in dialplan and "Answer()" not in dialplan.split("[hotline-fallback]")[0]
    assert '$["${STASISSTATUS}" != "SUCCESS"]?hotline-fallback,s,1' in dialplan
    assert "Queue(hotline-fallback,,,,12)" in dialplan
    assert "Playback(/srv/hotline/sounds/fallback/apology)" in dialplan
    assert f"Set(FALLBACK_NAME={DEFAULT_FALLBACK_SPOOL_DIR}/${{FALLBACK_EPOCH}}-${{FALLBACK_CID}})" in dialplan
    assert "Record(${FALLBACK_BASE}.wav," in dialplan

    queue = section(parse_conf(files["queues.conf"]), "hotline-fallback")
    assert "member" not in queue  # the dialplan adds the pushed phones at each fallback call
    assert "Set(FALLBACK_TODO=${DB_KEYS(hotline-endpoint/endpoint)})" in dialplan
    assert "AddQueueMember(hotline-fallback,PJSIP/${FALLBACK_M},,,${FALLBACK_M})" in dialplan
    assert "RemoveQueueMember(hotline-fallback,${FALLBACK_M})" in dialplan
    assert queue["musicclass"] == ["default"] and queue["strategy"] == ["ringall"]
    moh = section(parse_conf(files["musiconhold.conf"]), "default")
    assert moh["directory"] == ["/srv/hotline/sounds/moh"] and moh["mode"] == ["files"]

    modules = section(parse_conf(files["modules.conf"]), "modules")
    assert modules["autoload"] == ["no"]
    for needed in ("app_queue.so", "app_record.so", "res_pjsip_endpoint_identifier_ip.so", "res_prometheus.so",
                   "func_env.so", "app_exec.so", "app_stasis.so", "res_musiconhold.so"):  # fmt: skip
        assert needed in modules["load"], needed
    assert modules["load"].index("res_rtp_multicast.so") < modules["load"].index("chan_rtp.so")
    prometheus = section(parse_conf(files["prometheus.conf"]), "general")
    assert prometheus["enabled"] == ["yes"] and prometheus["uri"] == ["metrics"]


def test_bind_addresses_and_overrides(tmp_path: Path) -> None:
    assert http_bind_from_url("http://127.0.0.1:8088/ari") == ("127.0.0.1", 8088)
    assert http_bind_from_url("http://localhost:9000/ari") == ("127.0.0.1", 9000)
    assert http_bind_from_url("http://asterisk:8088/ari") == ("0.0.0.0", 8088)  # compose: another container
    config = AsteriskConfig.from_settings(
        custom_settings(tmp_path, sip_bind="0.0.0.0:5060"),
        http_bind="0.0.0.0:8088",
        carrier_match=("10.1.2.0/24", "192.0.2.7"),
        rtp_ports=(10000, 10199),
    )
    files = render_config(config)
    assert section(parse_conf(files["http.conf"]), "general")["bindaddr"] == ["0.0.0.0"]
    pjsip = parse_conf(files["pjsip.conf"])
    assert section(pjsip, "transport-udp")["bind"] == ["0.0.0.0:5060"]
    assert section(pjsip, "carrier", "identify")["match"] == ["10.1.2.0/24", "192.0.2.7"]
    rtp = section(parse_conf(files["rtp.conf"]), "general")
    assert (rtp["rtpstart"], rtp["rtpend"]) == (["10000"], ["10199"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ari_password": SecretStr("two\nlines")}, "line break"),
        ({"toll_free_number": "08-00"}, "toll-free number"),
        ({"ari_user": "ari]user"}, "ARI user"),
        ({"sip_bind": "pbx.example.org:5060"}, "does not appear to be an IPv4 or IPv6 address"),
        ({"prompts_dir_in_asterisk": "/srv/my sounds"}, "absolute path"),
    ],
)
def test_unsafe_settings_are_refused(tmp_path: Path, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):
        AsteriskConfig.from_settings(custom_settings(tmp_path, **overrides))


def test_render_config_command(tmp_path: Path) -> None:
    out, prompts = tmp_path / "etc", tmp_path / "sounds"
    env = {
        "HOTLINE_ARI_USER": "compose",
        "HOTLINE_TOLL_FREE_NUMBER": "0800999888",
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(
        app,
        ["asterisk", "render-config", "--out", str(out), "--http-bind", "0.0.0.0:8088", "--carrier-match",
         "172.16.0.0/12", "--rtp-ports", "10000-10199", "--prompts-out", str(prompts)],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(CONFIG_FILES)
    assert stat.S_IMODE((out / "ari.conf").stat().st_mode) == 0o640  # it holds a password
    assert "[compose]" in (out / "ari.conf").read_text()
    assert "exten => 0800999888,1," in (out / "extensions.conf").read_text()
    assert "astdb,hotline-endpoint" in (out / "sorcery.conf").read_text()
    assert "match = 172.16.0.0/12" in (out / "pjsip.conf").read_text()
    assert list((prompts / "moh").glob("*.wav"))
    assert sorted(p.name for p in (prompts / "fallback").glob("*.wav")) == [
        "apology.wav",
        "goodbye.wav",
        "leave-message.wav",
    ]

    bad = CliRunner().invoke(app, ["asterisk", "render-config", "--out", str(out), "--rtp-ports", "10"], env=env)
    assert bad.exit_code == 2


# ---- compose.yaml ----------------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set: the default; ${VAR:?message} (required): 'from-env-VAR'."""
    value = re.sub(r"\$\{(\w+):\?[^}]*\}", r"from-env-\1", value)
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_compose_has_no_default_credential() -> None:
    """Passwords come from the environment (compose refuses to start without them), never a default."""
    text = COMPOSE.read_text()
    for name in ("HOTLINE_ARI_PASSWORD", "POSTGRES_PASSWORD"):
        uses = re.findall(rf"\$\{{{name}(:[-?])", text)
        assert uses and set(uses) == {":?"}, f"{name}: {uses}"


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """target path → volume name (`name:/path[:ro]`)."""
    out = {}
    for entry in service.get("volumes", []):
        name, target = entry.split(":")[:2]
        out[target] = name
    return out


def test_compose_parses_with_the_expected_services_and_volumes() -> None:
    data = compose()
    services = data["services"]
    assert {"asterisk", "hotline", "postgres"} <= set(services)
    declared = set(data["volumes"])
    for name, service in services.items():
        for volume in mounts(service).values():
            if volume.startswith((".", "/")):  # a bind mount of a repository folder (dashboards/)
                assert (REPO / volume).exists(), f"{name} mounts missing {volume}"
                continue
            assert volume in declared, f"{name} mounts undeclared volume {volume}"
        dockerfile = service.get("build", {})
        if dockerfile:
            path = REPO / dockerfile["context"] / dockerfile.get("dockerfile", "Dockerfile")
            assert path.exists(), path
    asterisk_file = (REPO / "docker/asterisk/Dockerfile").read_text()
    assert re.search(r"^FROM debian:sid-slim$", asterisk_file, re.MULTILINE)
    for package in ("asterisk", "asterisk-modules", "asterisk-core-sounds-fr", "asterisk-core-sounds-fr-wav"):
        assert re.search(rf"\s{re.escape(package)}(\s|$)", asterisk_file), package
    assert "armelle" not in asterisk_file  # conflicts with asterisk-core-sounds-fr
    hotline_file = (REPO / "docker/hotline/Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", hotline_file, re.MULTILINE)
    assert "pip install" in hotline_file and '"hotline", "serve"' in hotline_file
    assert services["postgres"]["image"] == "postgres:16"
    assert services["hotline"]["command"] == ["hotline", "serve"]


def test_compose_is_consistent_with_the_rendered_asterisk_config(tmp_path: Path) -> None:
    data = compose()
    services = data["services"]
    hotline_env = {k: interpolate(str(v)) for k, v in services["hotline"]["environment"].items()}
    config_env = {k: interpolate(str(v)) for k, v in services["asterisk-config"]["environment"].items()}
    assert hotline_env == config_env, "the app and Asterisk's config are rendered from the same settings"
    defaults = Settings(_env_file=None)

    assert hotline_env["HOTLINE_ARI_URL"] == "http://asterisk:8088/ari"
    assert hotline_env["HOTLINE_VOSK_MODEL_PATH"] == "/models/vosk-fr"
    assert mounts(services["hotline"])["/models/vosk-fr"] == "vosk-fr"
    postgres = services["postgres"]["environment"]
    database = hotline_env["HOTLINE_DATABASE_URL"]
    assert database == (
        f"postgresql+psycopg://{postgres['POSTGRES_USER']}:{interpolate(postgres['POSTGRES_PASSWORD'])}"
        f"@postgres:5432/{postgres['POSTGRES_DB']}"
    )

    prompts = defaults.prompts_dir_in_asterisk
    assert hotline_env["HOTLINE_PROMPTS_DIR"] == hotline_env["HOTLINE_PROMPTS_DIR_IN_ASTERISK"] == prompts
    for name in ("asterisk", "hotline", "asterisk-config"):
        assert mounts(services[name])[prompts] == "prompts", name
    spool = hotline_env["HOTLINE_FALLBACK_SPOOL_DIR"]
    assert spool == hotline_env["HOTLINE_FALLBACK_SPOOL_DIR_IN_ASTERISK"] == defaults.fallback_spool_dir_in_asterisk
    for name in ("asterisk", "hotline"):
        assert mounts(services[name])[spool] == "fallback-spool", name
    assert mounts(services["asterisk"])["/etc/asterisk-rendered"] == "asterisk-config"
    command = [interpolate(str(part)) for part in services["asterisk-config"]["command"]]
    assert command[:3] == ["hotline", "asterisk", "render-config"]
    out = command[command.index("--out") + 1]
    assert mounts(services["asterisk-config"])[out] == "asterisk-config"
    assert command[command.index("--prompts-out") + 1] == prompts

    # Render exactly as the asterisk-config service does, with its environment.
    env = {**config_env, "HOTLINE_DATA_DIR": str(tmp_path / "var")}
    args = [*command[3:]]
    args[args.index("--out") + 1] = str(tmp_path / "etc")
    args[args.index("--prompts-out") + 1] = str(tmp_path / "sounds")
    result = CliRunner().invoke(app, ["asterisk", "render-config", *args], env=env)
    assert result.exit_code == 0, result.output
    etc = tmp_path / "etc"
    ari = parse_conf((etc / "ari.conf").read_text())
    assert section(ari, hotline_env["HOTLINE_ARI_USER"])["password"] == [hotline_env["HOTLINE_ARI_PASSWORD"]]
    http = section(parse_conf((etc / "http.conf").read_text()), "general")
    assert http["bindaddr"] == ["0.0.0.0"] and http["bindport"] == ["8088"]  # the port of HOTLINE_ARI_URL
    pjsip = parse_conf((etc / "pjsip.conf").read_text())
    assert section(pjsip, "transport-udp")["bind"] == ["0.0.0.0:5060"]
    assert f"exten => {hotline_env['HOTLINE_TOLL_FREE_NUMBER']},1," in (etc / "extensions.conf").read_text()
    assert f"Stasis({hotline_env['HOTLINE_ARI_APP']})" in (etc / "extensions.conf").read_text()
    assert f"directory = {prompts}/moh" in (etc / "musiconhold.conf").read_text()
    assert f"Set(FALLBACK_NAME={spool}/" in (etc / "extensions.conf").read_text()
    rtp = section(parse_conf((etc / "rtp.conf").read_text()), "general")
    published = {p.rsplit(":", 2)[-1] for p in services["asterisk"]["ports"]}
    assert f"{rtp['rtpstart'][0]}-{rtp['rtpend'][0]}/udp" in published
    assert {"8088", "5060/udp"} <= published


# ---- the sandbox: not root, host Asterisk, status ----------------------------------------------------------------


def test_not_root_is_refused_with_what_to_do_instead(tmp_path: Path) -> None:
    sandbox = Sandbox(custom_settings(tmp_path), euid=1000, host_asterisk=None, echo=lambda _: None)
    with pytest.raises(SandboxNeedsRoot) as refused:
        sandbox.up()
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert "needs root" in message and "debootstrap" in message and "chroot" in message
    assert "docker compose up asterisk" in message
    assert "Asterisk 22" in message and "HOTLINE_ARI_URL" in message
    assert not (tmp_path / "root").exists(), "nothing is built without root"


def test_not_root_cli_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = custom_settings(tmp_path)

    def unprivileged(http_bind: str | None = None, mirror: str | None = None) -> Sandbox:
        return Sandbox(settings, euid=1000, host_asterisk=None, echo=lambda _: None)

    monkeypatch.setattr(asterisk_commands, "_sandbox", unprivileged)
    result = CliRunner().invoke(app, ["asterisk", "up"])
    assert result.exit_code == 2
    assert "docker compose up asterisk" in result.stderr


def test_host_asterisk_22_is_used_when_installed(tmp_path: Path) -> None:
    fake = tmp_path / "asterisk"
    fake.write_text("#!/bin/sh\necho 'Asterisk 22.5.2'\n")
    fake.chmod(0o755)
    found = find_host_asterisk(which=lambda _: str(fake))
    assert found == HostAsterisk(fake, "22.5.2")
    old = tmp_path / "asterisk20"
    old.write_text("#!/bin/sh\necho 'Asterisk 20.1.0'\n")
    old.chmod(0o755)
    assert find_host_asterisk(which=lambda _: str(old)) is None
    assert find_host_asterisk(which=lambda _: None) is None

    settings = custom_settings(tmp_path, prompts_dir=tmp_path / "sounds")
    sandbox = Sandbox(settings, euid=1000, host_asterisk=found, echo=lambda _: None)
    assert sandbox.mode == "host"
    config = sandbox.config()
    base = (tmp_path / "var" / "asterisk" / "host").resolve()
    assert config.directories["astetcdir"] == str(base / "etc")
    assert config.fallback_spool_dir == str(base / "spool" / "hotline-fallback")
    assert config.prompts_dir == str(tmp_path / "sounds")
    assert sandbox.asterisk_command("-f") == [str(fake), "-C", str(base / "etc" / "asterisk.conf"), "-f"]
    text = render_config(config)["asterisk.conf"]
    assert f"astrundir => {base / 'run'}" in text


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_status_when_nothing_runs(tmp_path: Path) -> None:
    port = _free_tcp_port()
    env = {
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_ARI_URL": f"http://127.0.0.1:{port}/ari",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "asterisk", "status"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Asterisk: not running" in done.stdout
    assert f"ARI: unreachable at http://127.0.0.1:{port}/ari" in done.stdout
