"""`hotline asterisk ...`: the local Asterisk sandbox (up, down, status) and the rendered configuration."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hotline.settings import get_settings

if TYPE_CHECKING:
    from ivr.asterisk.sandbox import Sandbox

app = typer.Typer(no_args_is_help=True, help="The Asterisk 22 the IVR runs on (local sandbox, configs).")

HttpBindOption = Annotated[
    str | None,
    typer.Option(help="Address:port of Asterisk's HTTP server (ARI, /metrics); default: from HOTLINE_ARI_URL."),
]


def _sandbox(http_bind: str | None = None, mirror: str | None = None) -> Sandbox:
    from ivr.asterisk.sandbox import Sandbox

    return Sandbox(get_settings(), http_bind=http_bind, echo=typer.echo, mirror=mirror)


@app.command()
def up(
    http_bind: HttpBindOption = None,
    mirror: Annotated[str | None, typer.Option(help="Debian mirror for debootstrap (default: its own).")] = None,
) -> None:
    """Start Asterisk (host Asterisk 22, else the sid chroot: restored from the cache or built), wait for ARI."""
    from ivr.asterisk.sandbox import SandboxError

    try:
        _sandbox(http_bind, mirror).up()
    except SandboxError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(exc.exit_code) from exc


@app.command()
def down() -> None:
    """Stop Asterisk ('core stop now', then SIGTERM if it does not stop)."""
    from ivr.asterisk.sandbox import SandboxError

    try:
        _sandbox().down()
    except SandboxError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(exc.exit_code) from exc


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Running or not, pid, version, ARI, SIP endpoints. Exit code 0 if running, 3 if not."""
    result = _sandbox().status()
    if as_json:
        typer.echo(json.dumps({**asdict(result), "exit_code": result.exit_code}))
        raise typer.Exit(result.exit_code)
    if result.running:
        where = f"chroot {result.root}" if result.mode == "chroot" else (result.mode or "?")
        typer.echo(f"Asterisk: running (pid {result.pid}, {where}), version {result.version or '?'}")
    else:
        typer.echo("Asterisk: not running" + (" (but ARI answers: another Asterisk?)" if result.ari_reachable else ""))
    if result.ari_reachable:
        typer.echo(f"ARI: reachable at {result.ari_url}; {result.channels} channel(s)")
        for e in result.endpoints:
            typer.echo(f"  {e.technology}/{e.resource:<12} {e.state:<8} {e.channels} channel(s)")
    else:
        typer.echo(f"ARI: unreachable at {result.ari_url} ({result.ari_error})")
    raise typer.Exit(result.exit_code)


@app.command("render-config")
def render_config(
    out: Annotated[Path, typer.Option(help="Folder to write the .conf files into (e.g. a volume for /etc/asterisk).")],
    http_bind: HttpBindOption = None,
    sip_bind: Annotated[str | None, typer.Option(help="Address:port for SIP/UDP (default HOTLINE_SIP_BIND).")] = None,
    carrier_match: Annotated[
        list[str] | None,
        typer.Option(help="Address or network the carrier's calls come from (repeatable; default 127.0.0.1)."),
    ] = None,
    rtp_ports: Annotated[str | None, typer.Option(help="RTP port range, e.g. 10000-10199.")] = None,
    prompts_out: Annotated[
        Path | None,
        typer.Option(help="Also write the fallback prompts and music on hold into this folder (the prompts volume)."),
    ] = None,
) -> None:
    """Write the Asterisk configuration for these settings (compose, or an Asterisk 22 installed elsewhere)."""
    from ivr.asterisk import fallback_audio
    from ivr.asterisk.config import AsteriskConfig, ConfigError, write_config

    ports: tuple[int, int] | None = None
    try:
        if rtp_ports:
            low, _, high = rtp_ports.partition("-")
            ports = (int(low), int(high))
        config = AsteriskConfig.from_settings(
            get_settings(),
            http_bind=http_bind,
            sip_bind=sip_bind,
            carrier_match=tuple(carrier_match) if carrier_match else None,
            rtp_ports=ports,
        )
    except (ConfigError, ValueError) as exc:
        typer.echo(f"cannot render the Asterisk configuration: {exc}", err=True)
        raise typer.Exit(2) from exc
    files = write_config(config, out)
    typer.echo(
        f"wrote {len(files)} files to {out} (SIP {config.sip_bind}, HTTP "
        f"{config.http_bind_address}:{config.http_bind_port}, number {config.toll_free_number})"
    )
    if prompts_out is not None:
        audio = fallback_audio.write_fallback_audio(prompts_out)
        if audio.skipped_reason:
            typer.echo(f"warning: fallback prompts not generated ({audio.skipped_reason})", err=True)
        typer.echo(f"wrote {len(audio.prompts)} prompts and {len(audio.moh)} hold music file(s) to {prompts_out}")
