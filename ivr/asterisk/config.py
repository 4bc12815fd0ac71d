"""The Asterisk configuration of the hotline, rendered from Settings by Jinja2 templates (ivr/asterisk/templates/).

One set of templates serves the local sandbox (a chroot, everything on 127.0.0.1), an Asterisk 22 installed on
the host (run with `-C` on a rendered folder), and the compose image (binds on 0.0.0.0). What differs between
them is a parameter of `AsteriskConfig`, never a copy of a file.

The dialplan (extensions.conf.j2) in one paragraph: the carrier (identified by its source address) delivers the
toll-free number to `Stasis(<ari_app>)` without answering, so the app decides when to answer. If the app is not
connected, `${STASISSTATUS}` is FAILED and the caller goes to `[hotline-fallback]`: a French apology, a plain
app_queue queue ringing the agents' SIP phones with music on hold, then a recorded message (see
`FALLBACK_RECORDING_NAMING`) and a goodbye. Nobody hears silence or a busy tone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from hotline.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Every file Asterisk reads with this configuration. The ones without a template of their own are stubs: with
# `autoload = no`, a module whose config file is missing logs an error at load, so they exist, nearly empty.
CONFIG_FILES = (
    "asterisk.conf",
    "modules.conf",
    "logger.conf",
    "http.conf",
    "ari.conf",
    "pjsip.conf",
    "sorcery.conf",
    "extensions.conf",
    "queues.conf",
    "musiconhold.conf",
    "prometheus.conf",
    "rtp.conf",
    "indications.conf",
    "acl.conf",
    "ccss.conf",
    "cdr.conf",
    "cel.conf",
    "chan_websocket.conf",
    "features.conf",
    "manager.conf",
    "pjproject.conf",
    "queuerules.conf",
    "stasis.conf",
    "udptl.conf",
    "websocket_client.conf",
)

# Where the dialplan leaves the messages of callers nobody could answer (as Asterisk sees it).
DEFAULT_FALLBACK_SPOOL_DIR = "/var/spool/asterisk/hotline-fallback"
FALLBACK_RECORDING_NAMING = (
    "Every call the fallback takes leaves <epoch>-<caller id>.txt, written when the call ends (whoever hangs "
    "up): key=value lines caller_id, caller_name, epoch, started_at (UTC), uniqueid, dialled, queue_status, "
    "answered_by, record_status (NONE, SILENCE, DTMF, TIMEOUT, HANGUP), recording, size_bytes. If the caller "
    "reached the beep, <epoch>-<caller id>.wav (8 kHz 16-bit mono) holds the message. The caller id is reduced "
    "to digits and '+' ('anonymous' when absent, then followed by '-<uniqueid>', as is any name already taken). "
    "A call is complete when its .txt exists."
)
# The generated fallback prompts (fallback_audio.py), as files under <prompts dir>/fallback/ without extension.
FALLBACK_PROMPTS = ("apology", "leave-message", "goodbye")
MOH_SUBDIR = "moh"
FALLBACK_PROMPTS_SUBDIR = "fallback"

DEFAULT_RTP_PORTS = (10000, 20000)  # Debian's default range; the sandbox's test callers use ports above it
RECORD_SILENCE_SECONDS = 5  # a caller pausing to think is not cut off; a caller who left is
RECORD_MAX_SECONDS = 180  # a message is a few sentences; three minutes bounds the spool's growth
QUEUE_RING_SECONDS = 15  # each ring attempt of the fallback queue, then a new round (ringall)
QUEUE_RETRY_SECONDS = 2  # pause between rounds, so a phone that just rejected is not rung at once
CARRIER_ENDPOINT = "carrier"
# Where Asterisk keeps the agents' phones the hotline pushes (sorcery.conf): astdb families, one per object type.
AGENT_ENDPOINT_FAMILY = "hotline-endpoint"
AGENT_AOR_FAMILY = "hotline-aor"
AGENT_AUTH_FAMILY = "hotline-auth"
RESERVED_ENDPOINTS = frozenset({CARRIER_ENDPOINT, "transport-udp", "global", "endpoint-common"})
LOOPBACK = "127.0.0.1"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_NUMBER = re.compile(r"^\+?[0-9]{2,20}$")


class ConfigError(ValueError):
    """A setting cannot be written into an Asterisk config file safely."""


def conf_value(value: object) -> str:
    """A value for the right-hand side of `key = value`: `;` starts a comment, so it is escaped; no newlines."""
    text = str(value)
    if any(ch in text for ch in "\r\n\0"):
        raise ConfigError(f"a config value cannot contain a line break: {text!r}")
    return text.replace(";", r"\;")


def split_host_port(bind: str, default_port: int) -> tuple[str, int]:
    """'127.0.0.1:5060' → ('127.0.0.1', 5060); '[::1]:5060' → ('::1', 5060); '0.0.0.0' → ('0.0.0.0', default)."""
    if bind.startswith("["):
        host, _, rest = bind[1:].partition("]")
        port = rest.removeprefix(":")
    elif bind.count(":") == 1:
        host, port = bind.split(":")
    else:
        host, port = bind, ""
    try:
        return host, int(port) if port else default_port
    except ValueError as exc:
        raise ConfigError(f"not a host:port address: {bind!r}") from exc


def http_bind_from_url(ari_url: str) -> tuple[str, int]:
    """The address Asterisk's HTTP server binds, derived from the URL the app uses to reach ARI.

    An IP address is bound as is; `localhost` is 127.0.0.1; any other host name (e.g. `asterisk` in compose)
    means the app is on another host, so Asterisk listens on every interface.
    """
    parts = urlsplit(ari_url)
    host = parts.hostname or LOOPBACK
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if host == "localhost":
        return LOOPBACK, port
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "0.0.0.0", port
    return host, port


def dialled_numbers(toll_free_number: str) -> tuple[str, ...]:
    """The forms a carrier may deliver the number in: national (0800…), E.164 (+33800…) and 33800…."""
    if toll_free_number.startswith("0") and not toll_free_number.startswith("00"):
        national = toll_free_number[1:]
        return (toll_free_number, f"+33{national}", f"33{national}")
    return (toll_free_number,)


@dataclass(frozen=True)
class AsteriskConfig:
    """Everything the templates need. Build it with `from_settings`; paths are as Asterisk sees them."""

    ari_user: str
    ari_password: str
    ari_app: str
    toll_free_number: str
    sip_bind: str = f"{LOOPBACK}:5060"
    http_bind_address: str = LOOPBACK
    http_bind_port: int = 8088
    carrier_match: tuple[str, ...] = (LOOPBACK,)
    fallback_queue_seconds: int = 45
    prompts_dir: str = "/var/lib/hotline/sounds"
    fallback_spool_dir: str = DEFAULT_FALLBACK_SPOOL_DIR
    rtp_ports: tuple[int, int] = DEFAULT_RTP_PORTS
    directories: Mapping[str, str] = field(default_factory=dict)
    verbose: int = 3

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http_bind: str | None = None,
        sip_bind: str | None = None,
        carrier_match: tuple[str, ...] | None = None,
        prompts_dir: str | None = None,
        fallback_spool_dir: str | None = None,
        rtp_ports: tuple[int, int] | None = None,
        directories: Mapping[str, str] | None = None,
    ) -> AsteriskConfig:
        """The configuration for these settings; the keyword arguments override what is derived from them."""
        if http_bind is None:
            http_host, http_port = http_bind_from_url(settings.ari_url)
        else:
            http_host, http_port = split_host_port(http_bind, 8088)
        config = cls(
            ari_user=settings.ari_user,
            ari_password=settings.ari_secret(),
            ari_app=settings.ari_app,
            toll_free_number=settings.toll_free_number,
            sip_bind=sip_bind or settings.sip_bind,
            http_bind_address=http_host,
            http_bind_port=http_port,
            carrier_match=carrier_match or (LOOPBACK,),
            fallback_queue_seconds=settings.fallback_queue_seconds,
            prompts_dir=prompts_dir or settings.prompts_dir_in_asterisk,
            fallback_spool_dir=fallback_spool_dir or settings.fallback_spool_dir_in_asterisk,
            rtp_ports=rtp_ports or DEFAULT_RTP_PORTS,
            directories=dict(directories or {}),
        )
        config.validate()
        return config

    @property
    def moh_dir(self) -> str:
        return f"{self.prompts_dir.rstrip('/')}/{MOH_SUBDIR}"

    @property
    def fallback_prompts_dir(self) -> str:
        return f"{self.prompts_dir.rstrip('/')}/{FALLBACK_PROMPTS_SUBDIR}"

    @property
    def sip_host_port(self) -> tuple[str, int]:
        return split_host_port(self.sip_bind, 5060)

    def validate(self) -> None:
        """Refuse what would produce a broken or injectable config (section names, numbers, ports)."""
        for what, name in [("ARI user", self.ari_user), ("ARI app", self.ari_app)]:
            if not _NAME.match(name):
                raise ConfigError(f"{what} {name!r}: use letters, digits, '_', '.', '-' (at most 40)")
        if not _NUMBER.match(self.toll_free_number):
            raise ConfigError(f"toll-free number {self.toll_free_number!r}: digits, optionally after '+'")
        for value in [self.ari_password, self.prompts_dir, self.fallback_spool_dir]:
            conf_value(value)
        for path in [self.prompts_dir, self.fallback_spool_dir]:
            if not path.startswith("/") or any(ch in path for ch in ",()\"' $"):
                raise ConfigError(f"{path!r}: an absolute path without spaces, commas, quotes or parentheses")
        for network in self.carrier_match:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ConfigError(f"carrier match {network!r} is not an address or network") from exc
        host, port = self.sip_host_port
        ipaddress.ip_address(host)  # pjsip binds an address, not a name
        ipaddress.ip_address(self.http_bind_address)
        if not (0 < port < 65536 and 0 < self.http_bind_port < 65536):
            raise ConfigError("ports must be between 1 and 65535")
        if not (1024 <= self.rtp_ports[0] < self.rtp_ports[1] <= 65535):
            raise ConfigError(f"RTP port range {self.rtp_ports} is not a range of unprivileged ports")
        if self.fallback_queue_seconds < 1:
            raise ConfigError("fallback_queue_seconds must be at least 1")

    def context(self) -> dict[str, object]:
        """The variables the templates see."""
        return {
            "c": self,
            "dialled_numbers": dialled_numbers(self.toll_free_number),
            "agent_endpoints_family": f"{AGENT_ENDPOINT_FAMILY}/endpoint",
            "astdb_families": {"endpoint": AGENT_ENDPOINT_FAMILY, "aor": AGENT_AOR_FAMILY, "auth": AGENT_AUTH_FAMILY},
            "carrier_endpoint": CARRIER_ENDPOINT,
            "record_silence_seconds": RECORD_SILENCE_SECONDS,
            "record_max_seconds": RECORD_MAX_SECONDS,
            "queue_ring_seconds": QUEUE_RING_SECONDS,
            "queue_retry_seconds": QUEUE_RETRY_SECONDS,
            "prompts": {name: f"{self.fallback_prompts_dir}/{name}" for name in FALLBACK_PROMPTS},
        }


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["conf"] = conf_value
    return env


def render_config(config: AsteriskConfig) -> dict[str, str]:
    """File name → content of every file in CONFIG_FILES."""
    env = _environment()
    context = config.context()
    rendered: dict[str, str] = {}
    for name in CONFIG_FILES:
        template = f"{name}.j2"
        if (TEMPLATES_DIR / template).exists():
            rendered[name] = env.get_template(template).render(context)
        else:
            rendered[name] = env.get_template("stub.conf.j2").render({**context, "file_name": name})
    return rendered


def write_config(config: AsteriskConfig, out_dir: Path) -> list[Path]:
    """Render into `out_dir` (created if needed); other files already there are left alone. Returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_config(config).items():
        path = out_dir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o640)  # ari.conf and pjsip.conf hold passwords
        tmp.replace(path)
        written.append(path)
    return written
