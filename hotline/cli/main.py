"""The `hotline` command: one entry point, one subcommand group per concern."""

from __future__ import annotations

import typer

from hotline.cli import (
    agent_commands,
    asterisk_commands,
    bench_commands,
    db_commands,
    erlang_command,
    kb_commands,
    open311_commands,
    opendata_commands,
    residents_commands,
    say_command,
    serve_command,
    transcribe_command,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Citizen hotline: IVR, knowledge base, console.")
app.add_typer(kb_commands.app, name="kb")
app.add_typer(db_commands.app, name="db")
app.add_typer(bench_commands.app, name="bench")
app.add_typer(asterisk_commands.app, name="asterisk")
app.add_typer(agent_commands.app, name="agent")
app.add_typer(open311_commands.app, name="open311")
app.add_typer(opendata_commands.app, name="opendata")
app.add_typer(residents_commands.app, name="residents")
app.command("serve")(serve_command.serve)
app.command("transcribe")(transcribe_command.transcribe)
app.command("say")(say_command.say)
app.command("erlang")(erlang_command.erlang)


def main() -> None:
    app()
