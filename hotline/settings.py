"""One Settings object for the whole service, read from HOTLINE_* environment variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.domain.agent_states import DEFAULT_PAUSE_REASONS
from hotline.domain.callbacks import DEFAULT_HOURS as DEFAULT_CALLBACK_HOURS
from hotline.domain.callbacks import OpeningHours
from hotline.domain.report_days import parse_day_start
from hotline.secrets_store import stored_secret

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KB_PATH = PACKAGE_ROOT / "kb" / "content"
DEFAULT_REFERRALS_PATH = PACKAGE_ROOT / "kb" / "referrals.yaml"
DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Every tunable of the service. Environment: HOTLINE_<NAME>, e.g. HOTLINE_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    # Storage
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder for the SQLite file, caches and recordings.")
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty means SQLite in WAL mode at <data_dir>/hotline.db."
    )

    # Web
    host: str = Field("127.0.0.1", description="Address the web app and API listen on.")
    port: int = Field(8000, description="Port of the web app and API.")

    # Telephony (Asterisk ARI)
    ari_url: str = Field("http://127.0.0.1:8088/ari", description="Base URL of Asterisk's ARI.")
    ari_user: str = Field("hotline", description="ARI user (ari.conf).")
    ari_password: SecretStr | None = Field(
        None,
        description="ARI password (ari.conf); empty: one is generated at first start and kept in "
        "<data_dir>/secrets.json (mode 0600).",
    )
    ari_app: str = Field("hotline", description="Stasis application name used in the dialplan.")
    toll_free_number: str = Field("0800123456", description="The numéro vert the dialplan routes to the app.")
    sip_bind: str = Field("127.0.0.1:5060", description="Where Asterisk listens for SIP (UDP).")
    asterisk_root: Path = Field(
        Path("/var/cache/hotline/asterisk-root"),
        description="Debian sid chroot holding Asterisk 22 for the local sandbox (built on first `asterisk up`).",
    )
    asterisk_tarball: Path = Field(
        Path("/var/cache/hotline/asterisk-sid.tar.zst"),
        description="Cached archive of the sandbox chroot, restored in seconds when the folder is missing.",
    )
    prompts_dir: Path | None = Field(
        None,
        description="Host folder where the app writes prompt audio (TTS cache); empty: inside the sandbox chroot.",
    )
    prompts_dir_in_asterisk: str = Field(
        "/var/lib/hotline/sounds", description="The same folder as Asterisk sees it (shared volume in compose)."
    )
    tts_engine: Literal["pico", "espeak"] = Field(
        "pico",
        description="Voice of the prompts without a human recording: pico (SVOX Pico, natural French; falls back "
        "to espeak-ng when pico2wave is missing) or espeak (espeak-ng, robotic).",
    )
    fallback_queue_seconds: int = Field(
        45,
        ge=1,
        description="When the app is down: how long the dialplan's fallback queue rings the agents before "
        "asking the caller to leave a message.",
    )

    fallback_spool_dir_in_asterisk: str = Field(
        "/var/spool/asterisk/hotline-fallback",
        description="Where the dialplan fallback records messages, as Asterisk sees it.",
    )
    fallback_spool_dir: Path | None = Field(
        None, description="The same folder on this host (shared volume in compose); empty: inside the sandbox."
    )
    queue_announce_s: float = Field(
        60.0, ge=10, description="How often a waiting caller hears their position and expected wait (s)."
    )
    queue_skill_overflow_s: float = Field(
        60.0, ge=0, description="After this wait (s), any available agent may take a caller, skilled or not."
    )
    agent_ring_timeout_s: int = Field(
        15, ge=5, le=120, description="How long an agent's phone rings before the next agent is tried (s)."
    )
    agent_wrap_up_s: float = Field(
        30.0, ge=0, le=600, description="Wrap-up after each call before the agent is offered another (s)."
    )
    session_idle_s: int = Field(
        1800, ge=60, le=43_200, description="A signed-in console or API session ends after this long unused (s)."
    )
    queue_callback_offer_s: float = Field(
        90.0, ge=10, description="After this wait (s) a waiting caller is offered a callback again."
    )
    queue_max_wait_s: float = Field(
        600.0, ge=30, description="An expected wait past this (s) offers the callback at once."
    )
    carrier_trunk: str | None = Field(
        None,
        description="The carrier's SIP address (host:port) callbacks are dialled through, e.g. 203.0.113.5:5060; "
        "empty: callbacks wait (nothing can dial out).",
    )
    callback_hours: str = Field(
        DEFAULT_CALLBACK_HOURS,
        description="When callbacks are placed, in `timezone`: 'mon-fri 08:30-17:30; sat 09:00-12:00'.",
    )
    callback_attempts: int = Field(3, ge=1, le=10, description="Attempts on the citizen before a callback fails.")
    callback_retry_s: float = Field(300.0, ge=10, description="Between two attempts of one callback (s).")
    callback_ring_timeout_s: int = Field(
        30, ge=5, le=120, description="How long the citizen's phone rings on a callback attempt (s)."
    )
    pause_reasons: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PAUSE_REASONS),
        description='The reasons an agent may give for a pause, as JSON: ["pause", "réunion", ...]',
    )
    crisis_message: str | None = Field(
        None, description="A crisis pre-announcement played after the greeting (French); empty: none."
    )

    # Knowledge base
    kb_path: Path = Field(DEFAULT_KB_PATH, description="Folder of KB YAML files, one file per topic.")
    match_threshold: float | None = Field(
        None, description="Override of the calibrated fused-score threshold (0-1); empty uses the calibrated one."
    )
    referrals_path: Path = Field(
        DEFAULT_REFERRALS_PATH, description="Other bodies a caller is sent to when the city does not handle it."
    )

    # Speech
    speech_enabled: bool = Field(
        True, description="Callers may speak their request (keys always work); false: keys only."
    )
    speech_end_silence_ms: int = Field(
        600, ge=200, le=3000, description="Silence that ends a caller's turn (ms): shorter answers sooner."
    )
    speech_rtp_bind: str = Field(
        "127.0.0.1", description="Where the caller audio (externalMedia RTP) is received; 0.0.0.0 in containers."
    )
    speech_rtp_host: str | None = Field(
        None, description="The address Asterisk sends the caller audio to (empty: speech_rtp_bind)."
    )
    speech_pool_size: int = Field(
        4, ge=1, le=256, description="Vosk recognisers warmed at start: the calls that may speak at once in a burst."
    )
    vosk_model_path: Path | None = Field(None, description="Folder of a Vosk model; empty uses the embedded default.")
    whisper_model_path: Path | None = Field(
        None, description="Folder of a CTranslate2 Whisper model (embedded French default)."
    )

    # Locale
    timezone: str = Field("Europe/Paris", description="Time zone for opening hours, reports and dashboards.")
    day_start: str = Field(
        "00:00", description="When the reporting day starts (HH:MM, in `timezone`) for the KPIs and open data."
    )

    # Supervision (KPIs, wallboard, staffing advice)
    service_level_target_s: float = Field(
        20.0, gt=0, description="Service level: the share of answered calls answered within this wait (s)."
    )
    service_level_goal: float = Field(
        0.8, gt=0, lt=1, description="The service level the staffing advice aims for (0-1), e.g. 0.8: 80 % in T s."
    )
    short_abandon_s: float = Field(
        5.0, ge=0, description="Callers who hang up within this wait (s) are short abandons, left out of the rates."
    )

    @field_validator("callback_hours")
    @classmethod
    def _hours_parse(cls, value: str) -> str:
        OpeningHours.parse(value)  # HoursError (a ValueError) says what is wrong
        return value

    @field_validator("day_start")
    @classmethod
    def _day_start_parses(cls, value: str) -> str:
        parse_day_start(value)
        return value

    @field_validator("carrier_trunk")
    @classmethod
    def _trunk_is_host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in "@/ ;"):
            raise ValueError(f"carrier_trunk {value!r}: expected host:port, e.g. 203.0.113.5:5060")
        return value

    def effective_prompts_dir(self) -> Path:
        """Where generated prompt audio goes on this host."""
        if self.prompts_dir is not None:
            return self.prompts_dir
        return self.asterisk_root / self.prompts_dir_in_asterisk.lstrip("/")

    def effective_fallback_spool_dir(self) -> Path:
        """Where this host reads the messages the dialplan fallback recorded."""
        if self.fallback_spool_dir is not None:
            return self.fallback_spool_dir
        return self.asterisk_root / self.fallback_spool_dir_in_asterisk.lstrip("/")

    def ari_secret(self) -> str:
        """The ARI password: the configured one, else this data folder's generated one."""
        if self.ari_password is not None and self.ari_password.get_secret_value():
            return self.ari_password.get_secret_value()
        return stored_secret(self.data_dir, "ari_password")

    def effective_database_url(self) -> str:
        """The database URL in use: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own Settings instead)."""
    return Settings()
