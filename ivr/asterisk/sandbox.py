"""The local Asterisk 22 sandbox behind `hotline asterisk up | down | status`.

Where Asterisk comes from, in order:
1. An Asterisk 22 installed on this host (`asterisk -V` says 22): it runs as is, with `-C` on a config folder
   rendered under <data_dir>/asterisk/host/ (its own run, log, spool and lib folders), so it never touches the
   host's /etc/asterisk. No root needed.
2. Otherwise a Debian sid chroot at settings.asterisk_root (Debian bookworm has no asterisk package). It is
   restored from settings.asterisk_tarball when that exists (a few seconds), else built with debootstrap
   (about a minute) and then archived to the tarball, so the next machine-level `up` is fast. Needs root
   (debootstrap, mknod, chroot).

Run-time files live in <data_dir>/asterisk/: asterisk.pid, asterisk.log (Asterisk's console) and sandbox.json
(what is running, where, with which ports; read by `status`, `down` and the e2e test fixture).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from hotline.settings import Settings
from ivr.asterisk import fallback_audio
from ivr.asterisk.config import AsteriskConfig, write_config

Mode = Literal["chroot", "host"]
Echo = Callable[[str], None]

ASTERISK_MAJOR = 22
SANDBOX_PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-fr", "asterisk-core-sounds-fr-wav")
DEBIAN_SUITE = "sid"  # bookworm has no asterisk; sid has 22 (see shared/reference/telephony/NOTES.md)
CHROOT_ASTERISK = "/usr/sbin/asterisk"
CHROOT_MARKER = ".hotline-sandbox"  # written last: a chroot without it is a half-built one
# Left out of the cached archive: run-time state and files rendered with passwords (re-rendered at every `up`).
TARBALL_EXCLUDES = (
    "./etc/asterisk",
    "./var/run/asterisk/*",
    "./var/log/asterisk/*",
    "./var/spool/asterisk/*",
    "./var/lib/hotline",
    "./var/lib/asterisk/astdb.sqlite3",
    "./var/cache/apt/archives/*.deb",
)
DEVICE_NODES = (("null", 1, 3), ("zero", 1, 5), ("random", 1, 8), ("urandom", 1, 9))
RUNTIME_DIRS = (
    "var/run/asterisk", "var/log/asterisk", "var/spool/asterisk", "var/lib/asterisk", "var/cache/asterisk",
    "var/spool/asterisk/recording",  # the callers' recorded messages (ARI record); Asterisk does not make it
)  # fmt: skip

ARI_READY_TIMEOUT_S = 30.0  # measured 0.4-0.6 s; 30 s leaves room for a loaded CI machine
ARI_POLL_S = 0.05
ARI_REQUEST_TIMEOUT_S = 2.0
STOP_GRACE_S = 10.0  # 'core stop now' measured 1.2-2.4 s
TERM_GRACE_S = 5.0
DEBOOTSTRAP_TIMEOUT_S = 1800.0  # measured about 53 s; a slow mirror may take many minutes
TAR_TIMEOUT_S = 600.0
LOG_TAIL_LINES = 30


class SandboxError(RuntimeError):
    """`up`, `down` or `status` cannot do its job; the message says why and what to do."""

    exit_code = 1


class SandboxNeedsRoot(SandboxError):
    """The chroot sandbox needs root, and there is no host Asterisk 22 to use instead."""

    exit_code = 2


def root_required_message(settings: Settings) -> str:
    """What a user without root reads: why, and the two ways to get an Asterisk anyway."""
    return (
        "The Asterisk sandbox needs root: it builds a Debian sid chroot with debootstrap, creates device nodes "
        f"and runs Asterisk with chroot (at {settings.asterisk_root}).\n"
        "Instead, either:\n"
        "  - run Asterisk from compose.yaml: `docker compose up asterisk` (ARI on http://127.0.0.1:8088/ari), or\n"
        f"  - install Asterisk {ASTERISK_MAJOR} on this machine (then `hotline asterisk up` runs it without root), "
        "or point HOTLINE_ARI_URL (and HOTLINE_ARI_USER / HOTLINE_ARI_PASSWORD) at an Asterisk "
        f"{ASTERISK_MAJOR} configured with `hotline asterisk render-config --out DIR`."
    )


@dataclass(frozen=True)
class HostAsterisk:
    binary: Path
    version: str


def find_host_asterisk(which: Callable[[str], str | None] = shutil.which) -> HostAsterisk | None:
    """An Asterisk 22 on this host's PATH, if any (`asterisk -V` → 'Asterisk 22.x.y')."""
    binary = which("asterisk")
    if binary is None:
        return None
    try:
        done = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Asterisk\s+((\d+)\.\S*)", done.stdout)
    if match is None or int(match.group(2)) != ASTERISK_MAJOR:
        return None
    return HostAsterisk(Path(binary), match.group(1))


@dataclass(frozen=True)
class SandboxState:
    """What `up` started (sandbox.json). Paths named *_in_asterisk are as Asterisk sees them."""

    mode: Mode
    pid: int
    root: str | None
    config_dir: str
    log_file: str
    ari_url: str
    ari_user: str
    ari_app: str
    sip_bind: str
    http_bind: str
    toll_free_number: str
    prompts_dir: str
    prompts_dir_in_asterisk: str
    fallback_spool_dir: str
    fallback_spool_dir_in_asterisk: str
    fallback_queue_seconds: int
    started_at: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class UpResult:
    state: SandboxState
    already_running: bool
    chroot_source: str | None  # "existing", "restored", "built", or None in host mode / already running
    timings: dict[str, float]


@dataclass(frozen=True)
class Endpoint:
    technology: str
    resource: str
    state: str
    channels: int


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    mode: str | None
    root: str | None
    version: str | None
    ari_url: str
    ari_reachable: bool
    ari_error: str | None
    endpoints: list[Endpoint]
    channels: int | None

    @property
    def exit_code(self) -> int:
        return 0 if self.running else 3


def _pid_alive(pid: int) -> bool:
    """True if `pid` is a live Asterisk (not a zombie, not a recycled pid of another program)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that exited (the test fixture's case)
    try:
        proc_stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = proc_stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"asterisk" in cmdline


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()).rstrip("/") + "/"
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if (line.split()[1] + "/").startswith(prefix)]


def _remove_tree(path: Path) -> None:
    """rm -rf, refusing if anything is mounted below (deleting through a bind mount deletes the source)."""
    if not path.exists():
        return
    mounted = _mounts_under(path)
    if mounted:
        raise SandboxError(f"refusing to delete {path}: mounted below it: {', '.join(mounted)}")
    shutil.rmtree(path)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _run(command: list[str], *, timeout: float, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    if log is None:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)


class Sandbox:
    """`up`, `down` and `status` of the local Asterisk for one Settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        http_bind: str | None = None,
        echo: Echo = print,
        euid: int | None = None,
        host_asterisk: HostAsterisk | Literal["detect"] | None = "detect",
        mirror: str | None = None,
        ari_timeout_s: float = ARI_READY_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.http_bind = http_bind
        self.echo = echo
        self.euid = os.geteuid() if euid is None else euid
        self._host_asterisk = host_asterisk
        self.mirror = mirror
        self.ari_timeout_s = ari_timeout_s
        self.run_dir = settings.data_dir.resolve() / "asterisk"
        self.pid_file = self.run_dir / "asterisk.pid"
        self.log_file = self.run_dir / "asterisk.log"
        self.state_file = self.run_dir / "sandbox.json"
        self.root = settings.asterisk_root.resolve()
        self.tarball = settings.asterisk_tarball.resolve()

    # ---- what runs where -------------------------------------------------------------------------------------

    @property
    def host_asterisk(self) -> HostAsterisk | None:
        if self._host_asterisk == "detect":
            self._host_asterisk = find_host_asterisk()
        return self._host_asterisk

    @property
    def mode(self) -> Mode:
        return "host" if self.host_asterisk is not None else "chroot"

    @property
    def host_base(self) -> Path:
        return self.run_dir / "host"

    def config(self) -> AsteriskConfig:
        """The configuration rendered for this machine (chroot: Debian's paths; host: folders under data_dir)."""
        if self.mode == "chroot":
            return AsteriskConfig.from_settings(self.settings, http_bind=self.http_bind)
        base = self.host_base
        directories = {
            "astetcdir": str(base / "etc"),
            "astrundir": str(base / "run"),
            "astlogdir": str(base / "log"),
            "astspooldir": str(base / "spool"),
            "astvarlibdir": str(base / "lib"),
            "astdbdir": str(base / "lib"),
            "astkeydir": str(base / "lib"),
            "astcachedir": str(base / "cache"),
        }
        return AsteriskConfig.from_settings(
            self.settings,
            http_bind=self.http_bind,
            prompts_dir=str(self.settings.prompts_dir or self.settings.prompts_dir_in_asterisk),
            fallback_spool_dir=str(self.settings.fallback_spool_dir or base / "spool" / "hotline-fallback"),
            directories=directories,
        )

    def in_root(self, path_in_asterisk: str) -> Path:
        """A path as Asterisk sees it → the same file on this host."""
        if self.mode == "host":
            return Path(path_in_asterisk)
        return self.root / path_in_asterisk.lstrip("/")

    def config_dir(self) -> Path:
        return self.root / "etc" / "asterisk" if self.mode == "chroot" else self.host_base / "etc"

    def asterisk_command(self, *args: str) -> list[str]:
        host = self.host_asterisk
        if host is not None:
            return [str(host.binary), "-C", str(self.config_dir() / "asterisk.conf"), *args]
        return ["chroot", str(self.root), CHROOT_ASTERISK, *args]

    def local_ari_url(self, config: AsteriskConfig) -> str:
        """Where this machine reaches ARI: the bind address, or 127.0.0.1 when Asterisk binds every interface."""
        host = config.http_bind_address
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{config.http_bind_port}/ari"

    # ---- state files -----------------------------------------------------------------------------------------

    def read_state(self) -> SandboxState | None:
        try:
            data = json.loads(self.state_file.read_text())
            return SandboxState(**data)
        except (OSError, ValueError, TypeError):
            return None

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    # ---- up --------------------------------------------------------------------------------------------------

    def up(self) -> UpResult:
        started = time.monotonic()
        pid = self.running_pid()
        state = self.read_state()
        if pid is not None and state is not None:
            self.echo(f"Asterisk is already running (pid {pid}, {state.mode}); ARI at {state.ari_url}")
            return UpResult(state, already_running=True, chroot_source=None, timings={})
        timings: dict[str, float] = {}
        chroot_source: str | None = None
        if self.mode == "chroot":
            if self.euid != 0:
                raise SandboxNeedsRoot(root_required_message(self.settings))
            chroot_source = self._prepare_chroot(timings)
        else:
            assert self.host_asterisk is not None
            self.echo(f"using the host's Asterisk {self.host_asterisk.version} ({self.host_asterisk.binary})")
        config = self.config()
        self._check_ports_free(config)
        t = time.monotonic()
        self._install(config)
        timings["configure_s"] = time.monotonic() - t
        state = self._start(config, timings)
        timings["total_s"] = time.monotonic() - started
        state = SandboxState(**{**asdict(state), "timings": timings})
        self._write_state(state)
        self.echo(f"up took {timings['total_s']:.1f} s")
        return UpResult(state, already_running=False, chroot_source=chroot_source, timings=timings)

    def _prepare_chroot(self, timings: dict[str, float]) -> str:
        t = time.monotonic()
        if (self.root / CHROOT_MARKER).exists():
            source = "existing"
            self.echo(f"chroot {self.root}: ready")
        elif self.tarball.exists():
            source = "restored"
            self._restore_chroot()
            self.echo(f"chroot {self.root}: restored from {self.tarball} in {time.monotonic() - t:.1f} s")
        else:
            source = "built"
            self._build_chroot()
            self.echo(f"chroot {self.root}: built with debootstrap in {time.monotonic() - t:.1f} s")
        timings[f"chroot_{source}_s"] = time.monotonic() - t
        version = self._chroot_version()
        if not version.startswith(f"{ASTERISK_MAJOR}."):
            raise SandboxError(f"the chroot at {self.root} has Asterisk {version}, not {ASTERISK_MAJOR}")
        if not self.tarball.exists():
            t = time.monotonic()
            self._write_tarball()
            timings["tarball_write_s"] = time.monotonic() - t
            size_mb = self.tarball.stat().st_size / 1e6
            self.echo(f"cached the chroot as {self.tarball} ({size_mb:.0f} MB) in {timings['tarball_write_s']:.1f} s")
        return source

    def _partial(self) -> Path:
        partial = self.root.with_name(self.root.name + ".partial")
        _remove_tree(partial)  # left by an interrupted build or restore
        partial.parent.mkdir(parents=True, exist_ok=True)
        return partial

    def _finish_chroot(self, partial: Path) -> None:
        etc, dist = partial / "etc" / "asterisk", partial / "etc" / "asterisk.dist"
        if etc.exists() and not dist.exists():
            etc.rename(dist)  # Debian's sample configs, kept for reference (and in the tarball, unlike ours)
        (partial / CHROOT_MARKER).write_text(f"hotline Asterisk sandbox, Debian {DEBIAN_SUITE}\n")
        _remove_tree(self.root)  # a folder without the marker: an older, unfinished attempt
        partial.rename(self.root)

    def _restore_chroot(self) -> None:
        partial = self._partial()
        partial.mkdir()
        done = _run(
            ["tar", "--zstd", "--numeric-owner", "-xpf", str(self.tarball), "-C", str(partial)],
            timeout=TAR_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise SandboxError(f"restoring {self.tarball} failed: {done.stderr.strip()[-800:]}")
        self._finish_chroot(partial)

    def _build_chroot(self) -> None:
        if shutil.which("debootstrap") is None:
            raise SandboxError("debootstrap is not installed: run scripts/setup, or apt-get install debootstrap")
        partial = self._partial()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = self.run_dir / "debootstrap.log"
        log.write_text("")
        self.echo(f"building a Debian {DEBIAN_SUITE} chroot with Asterisk (about a minute; log: {log})")
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(SANDBOX_PACKAGES)}",
            DEBIAN_SUITE,
            str(partial),
        ]
        if self.mirror:
            command.append(self.mirror)
        try:
            done = _run(command, timeout=DEBOOTSTRAP_TIMEOUT_S, log=log)
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"debootstrap did not finish in {DEBOOTSTRAP_TIMEOUT_S:.0f} s:\n{_tail(log)}") from exc
        if done.returncode != 0 or not (partial / CHROOT_ASTERISK.lstrip("/")).exists():
            raise SandboxError(f"debootstrap failed (exit {done.returncode}):\n{_tail(log)}")
        _run(["chroot", str(partial), "apt-get", "clean"], timeout=60, log=log)  # 115 MB of .deb files
        self._finish_chroot(partial)

    def _write_tarball(self) -> None:
        self.tarball.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tarball.with_name(self.tarball.name + ".partial")
        command = ["tar", "-I", "zstd -T0 -3", "--numeric-owner", "-cpf", str(tmp), "-C", str(self.root)]
        command += [f"--exclude={pattern}" for pattern in TARBALL_EXCLUDES]
        done = _run([*command, "."], timeout=TAR_TIMEOUT_S)
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise SandboxError(f"archiving the chroot to {self.tarball} failed: {done.stderr.strip()[-800:]}")
        tmp.replace(self.tarball)

    def _chroot_version(self) -> str:
        done = _run(["chroot", str(self.root), CHROOT_ASTERISK, "-V"], timeout=30)
        match = re.search(r"Asterisk\s+(\S+)", done.stdout)
        if match is None:
            raise SandboxError(f"{self.root}{CHROOT_ASTERISK} -V failed: {(done.stdout + done.stderr).strip()}")
        return match.group(1)

    def _check_ports_free(self, config: AsteriskConfig) -> None:
        http_host = "127.0.0.1" if config.http_bind_address in ("0.0.0.0", "::") else config.http_bind_address
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((http_host, config.http_bind_port)) == 0:
                raise SandboxError(
                    f"something already listens on {http_host}:{config.http_bind_port} (another Asterisk? "
                    "`hotline asterisk status`); stop it or change HOTLINE_ARI_URL"
                )
        sip_host, sip_port = config.sip_host_port
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as probe:
            try:
                probe.bind((sip_host, sip_port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise SandboxError(
                        f"UDP {config.sip_bind} is already taken (another SIP server?); stop it or change "
                        "HOTLINE_SIP_BIND"
                    ) from exc
                raise SandboxError(f"cannot bind SIP on {config.sip_bind}: {exc}") from exc

    def _install(self, config: AsteriskConfig) -> None:
        """Configs, device nodes, run-time folders, prompts and music on hold."""
        etc = self.config_dir()
        if self.mode == "chroot":
            dist = etc.with_name("asterisk.dist")
            if etc.exists() and not dist.exists():
                etc.rename(dist)  # Debian's sample configs, kept once for reference
            _remove_tree(etc)
            for name, major, minor in DEVICE_NODES:
                node = self.root / "dev" / name
                if not node.is_char_device():
                    node.unlink(missing_ok=True)
                    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
                    node.chmod(0o666)
            for folder in RUNTIME_DIRS:
                (self.root / folder).mkdir(parents=True, exist_ok=True)
        else:
            for key in ("astrundir", "astlogdir", "astspooldir", "astvarlibdir", "astcachedir"):
                Path(config.directories[key]).mkdir(parents=True, exist_ok=True)
            (Path(config.directories["astspooldir"]) / "recording").mkdir(exist_ok=True)
        files = write_config(config, etc)
        spool = self.in_root(config.fallback_spool_dir)
        prompts = self.in_root(config.prompts_dir)
        for needed in (spool, prompts):
            try:
                needed.mkdir(parents=True, exist_ok=True)
            except PermissionError as exc:
                raise SandboxError(f"cannot create {needed}: {exc}; set HOTLINE_PROMPTS_DIR to a writable one") from exc
        if spool.resolve() != self.settings.effective_fallback_spool_dir().resolve():
            self.echo(
                f"warning: the app reads fallback messages from {self.settings.effective_fallback_spool_dir()}, "
                f"but this Asterisk writes them to {spool}: set HOTLINE_FALLBACK_SPOOL_DIR={spool}"
            )
        effective = self.settings.effective_prompts_dir()
        if self.mode == "chroot" and effective.resolve() != prompts.resolve():
            effective.mkdir(parents=True, exist_ok=True)
            self.echo(
                f"warning: HOTLINE_PROMPTS_DIR={effective} is outside the chroot, so Asterisk cannot read it; "
                f"the sandbox's Asterisk reads {config.prompts_dir} (= {prompts}). Leave HOTLINE_PROMPTS_DIR "
                "empty with the sandbox."
            )
        audio = fallback_audio.write_fallback_audio(prompts)
        self.echo(f"configs rendered to {etc} ({len(files)} files); fallback spool {spool}")
        if audio.skipped_reason:
            self.echo(f"warning: fallback prompts not generated ({audio.skipped_reason}); the recorded ones will play")
        else:
            self.echo(f"fallback prompts and music on hold in {prompts}")

    def _start(self, config: AsteriskConfig, timings: dict[str, float]) -> SandboxState:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        command = self.asterisk_command("-f")
        with self.log_file.open("w") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            # A session of its own: Asterisk outlives this command and gets no signal from its terminal.
            # chroot execs asterisk, so the pid is Asterisk's.
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        started_at = time.time()
        t = time.monotonic()
        self.pid_file.write_text(f"{process.pid}\n")
        ari_url = self.local_ari_url(config)
        prompts = self.in_root(config.prompts_dir)
        state = SandboxState(
            mode=self.mode,
            pid=process.pid,
            root=str(self.root) if self.mode == "chroot" else None,
            config_dir=str(self.config_dir()),
            log_file=str(self.log_file),
            ari_url=ari_url,
            ari_user=config.ari_user,
            ari_app=config.ari_app,
            sip_bind=config.sip_bind,
            http_bind=f"{config.http_bind_address}:{config.http_bind_port}",
            toll_free_number=config.toll_free_number,
            prompts_dir=str(prompts),
            prompts_dir_in_asterisk=config.prompts_dir,
            fallback_spool_dir=str(self.in_root(config.fallback_spool_dir)),
            fallback_spool_dir_in_asterisk=config.fallback_spool_dir,
            fallback_queue_seconds=config.fallback_queue_seconds,
            started_at=started_at,
        )
        self._write_state(state)
        try:
            self._wait_ari(process, ari_url, config)
            timings["ari_ready_s"] = time.monotonic() - t
            self._asterisk_rx("core waitfullybooted", timeout=self.ari_timeout_s)
            timings["fully_booted_s"] = time.monotonic() - t
        except BaseException:
            self._kill(process.pid)
            self.pid_file.unlink(missing_ok=True)
            raise
        version = self._ari_info(ari_url, config.ari_user, config.ari_password).get("version", "?")
        self.echo(
            f"Asterisk {version} started (pid {process.pid}); ARI ready at {ari_url} after "
            f"{timings['ari_ready_s']:.2f} s (fully booted after {timings['fully_booted_s']:.2f} s)"
            f"; log {self.log_file}"
        )
        return state

    def _ari_info(self, ari_url: str, user: str, password: str) -> dict[str, str]:
        response = httpx.get(f"{ari_url}/asterisk/info", auth=(user, password), timeout=ARI_REQUEST_TIMEOUT_S)
        response.raise_for_status()
        system = response.json().get("system", {})
        return {"version": str(system.get("version", "?"))}

    def _wait_ari(self, process: subprocess.Popen[bytes], ari_url: str, config: AsteriskConfig) -> None:
        deadline = time.monotonic() + self.ari_timeout_s
        last_error = "no answer yet"
        with httpx.Client(auth=(config.ari_user, config.ari_password), timeout=ARI_REQUEST_TIMEOUT_S) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise SandboxError(
                        f"Asterisk exited with code {process.returncode} before ARI answered. "
                        f"Last lines of {self.log_file}:\n{_tail(self.log_file)}"
                    )
                try:
                    response = client.get(f"{ari_url}/asterisk/info")
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}"
                    if response.status_code == 401:
                        last_error += " (ARI user/password refused: is another Asterisk on this port?)"
                except httpx.HTTPError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(ARI_POLL_S)
        raise SandboxError(
            f"ARI did not answer at {ari_url}/asterisk/info within {self.ari_timeout_s:.0f} s ({last_error}). "
            f"Last lines of {self.log_file}:\n{_tail(self.log_file)}"
        )

    def _write_state(self, state: SandboxState) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(".sandbox.json.tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
        tmp.replace(self.state_file)

    # ---- down ------------------------------------------------------------------------------------------------

    def _asterisk_rx(self, command: str, *, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        return _run(self._rx_command(command), timeout=timeout)

    def _rx_command(self, command: str) -> list[str]:
        state = self.read_state()
        if state is not None and state.mode == "chroot" and state.root:
            return ["chroot", state.root, CHROOT_ASTERISK, "-rx", command]
        if state is not None and state.mode == "host":
            host = self.host_asterisk
            binary = str(host.binary) if host else "asterisk"
            return [binary, "-C", str(Path(state.config_dir) / "asterisk.conf"), "-rx", command]
        return self.asterisk_command("-rx", command)

    def _wait_exit(self, pid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.05)
        return not _pid_alive(pid)

    def _kill(self, pid: int) -> None:
        for sig, grace in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, TERM_GRACE_S)):
            if not _pid_alive(pid):
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if self._wait_exit(pid, grace):
                return

    def down(self) -> bool:
        """Stop Asterisk ('core stop now', then SIGTERM if needed). Returns whether it was running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            self.echo("Asterisk is not running")
            return False
        state = self.read_state()
        if state is not None and state.mode == "chroot" and self.euid != 0:
            raise SandboxNeedsRoot(f"stopping the chroot's Asterisk (pid {pid}) needs root")
        t = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._asterisk_rx("core stop now", timeout=STOP_GRACE_S)
        how = "core stop now"
        if not self._wait_exit(pid, STOP_GRACE_S):
            how = "SIGTERM"
            self._kill(pid)
        if _pid_alive(pid):
            raise SandboxError(f"Asterisk (pid {pid}) survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        self.echo(f"Asterisk stopped ({how}, pid {pid}) in {time.monotonic() - t:.2f} s")
        return True

    # ---- status ----------------------------------------------------------------------------------------------

    def status(self) -> Status:
        pid = self.running_pid()
        state = self.read_state()
        ari_url = state.ari_url if state else self.settings.ari_url.rstrip("/")
        auth = (self.settings.ari_user, self.settings.ari_secret())
        version: str | None = None
        endpoints: list[Endpoint] = []
        channels: int | None = None
        error: str | None = None
        try:
            with httpx.Client(auth=auth, timeout=ARI_REQUEST_TIMEOUT_S) as client:
                info = client.get(f"{ari_url}/asterisk/info")
                info.raise_for_status()
                version = str(info.json().get("system", {}).get("version", "?"))
                listed = client.get(f"{ari_url}/endpoints")
                listed.raise_for_status()
                endpoints = [
                    Endpoint(e["technology"], e["resource"], e.get("state", "unknown"), len(e.get("channel_ids", [])))
                    for e in listed.json()
                ]
                channels = len(client.get(f"{ari_url}/channels").json())
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return Status(
            running=pid is not None,
            pid=pid,
            mode=state.mode if state and pid else None,
            root=state.root if state and pid else None,
            version=version,
            ari_url=ari_url,
            ari_reachable=error is None,
            ari_error=error,
            endpoints=endpoints,
            channels=channels,
        )


__all__ = [
    "HostAsterisk",
    "Sandbox",
    "SandboxError",
    "SandboxNeedsRoot",
    "SandboxState",
    "Status",
    "UpResult",
    "find_host_asterisk",
    "root_required_message",
]
