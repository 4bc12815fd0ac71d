"""`hotline agent ...`: the agents' accounts and their SIP phones.

Every change is written to the database, then the phones are pushed to Asterisk at once (ARI dynamic
configuration), so a new agent's phone can REGISTER within a second, with no restart. When Asterisk is not
reachable the change is kept and `hotline serve` pushes the phones when it connects.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from hotline.domain.agents import AgentAccountError, parse_skills
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts, UnknownAgentError
from hotline.settings import Settings, get_settings
from hotline.storage.db import make_engine, upgrade_database
from hotline.storage.models import Agent

app = typer.Typer(no_args_is_help=True, help="Agents: accounts, skills, SIP phones.")

SkillsOption = Annotated[str, typer.Option("--skills", help="KB topics the agent takes, comma-separated.")]


def _accounts(settings: Settings) -> AgentAccounts:
    url = settings.effective_database_url()
    upgrade_database(url)  # a first command on a new machine finds its tables
    return AgentAccounts(make_engine(url))


def _known_topics(settings: Settings) -> list[str]:
    from kb.loader import KbInvalid, load_kb

    try:
        return sorted({e.topic for e in load_kb(settings.kb_path).entries})
    except KbInvalid as exc:
        typer.echo(f"the knowledge base does not load, so skills cannot be checked:\n{exc}", err=True)
        raise typer.Exit(2) from exc


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _push_phones(settings: Settings, accounts: AgentAccounts) -> None:
    """Make Asterisk hold the active agents' phones; a note on stderr (not a failure) when it is away."""
    from ivr.asterisk.agent_phones import AgentPhone, AgentPhoneError, AgentPhones

    active, disabled = accounts.phones()
    phones = [AgentPhone(p.endpoint, p.digest, p.display_name) for p in active]
    try:
        with AgentPhones.connect(settings.ari_url, settings.ari_user, settings.ari_secret()) as ari:
            ari.sync(phones, disabled)
    except AgentPhoneError as exc:
        typer.echo(
            f"note: the phones were not pushed to Asterisk ({exc}); `hotline serve` pushes them when it connects",
            err=True,
        )


def _public(agent: Agent) -> dict[str, object]:
    return {
        "login": agent.login,
        "name": agent.display_name,
        "role": agent.role.value,
        "skills": list(agent.skills),
        "sip_endpoint": agent.sip_endpoint,
        "active": agent.active,
        "state": agent.state.value,
    }


@app.command()
def add(
    login: Annotated[str, typer.Argument(help="Sign-in name, also the phone's SIP user.")],
    name: Annotated[str, typer.Option("--name", help="The person's name, shown to colleagues.")],
    role: Annotated[Role, typer.Option("--role", help="agent, supervisor or admin.")] = Role.AGENT,
    skills: SkillsOption = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the web password from the first line of stdin.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an agent: the web password from stdin, a generated SIP password (printed once)."""
    if not password_stdin:
        raise _fail("give the web password on stdin with --password-stdin (never on the command line)")
    password = sys.stdin.readline().rstrip("\r\n")
    settings = get_settings()
    try:
        skill_list = parse_skills(skills, _known_topics(settings))
        accounts = _accounts(settings)
        created = accounts.add(login, name, role, skill_list, password)
    except AgentAccountError as exc:
        raise _fail(str(exc)) from exc
    _push_phones(settings, accounts)
    agent = created.agent
    if as_json:
        out = {k: v for k, v in _public(agent).items() if k in ("login", "name", "role", "skills", "sip_endpoint")}
        typer.echo(json.dumps({**out, "sip_password": created.sip_password}, ensure_ascii=False))
        return
    typer.echo(f"agent {agent.login} ({agent.display_name}, {agent.role.value}) created")
    typer.echo(
        f"SIP phone: user {agent.sip_endpoint}, password {created.sip_password} (shown once), "
        f"server {settings.sip_bind}"
    )


@app.command("list")
def list_agents(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False) -> None:
    """Every agent, active or not."""
    agents = _accounts(get_settings()).all()
    if as_json:
        typer.echo(json.dumps([_public(a) for a in agents], ensure_ascii=False))
        return
    if not agents:
        typer.echo("no agent yet: `hotline agent add LOGIN --name NAME --password-stdin`")
        return
    typer.echo(f"{'login':<20} {'name':<24} {'role':<11} {'state':<10} {'active':<6} skills")
    for a in agents:
        typer.echo(
            f"{a.login:<20} {a.display_name:<24} {a.role.value:<11} {a.state.value:<10} "
            f"{'yes' if a.active else 'no':<6} {','.join(a.skills) or '-'}"
        )


@app.command()
def disable(login: Annotated[str, typer.Argument(help="The agent's login.")]) -> None:
    """The agent can no longer sign in, and their phone is removed from Asterisk; their history stays."""
    settings = get_settings()
    accounts = _accounts(settings)
    try:
        accounts.disable(login)
    except UnknownAgentError as exc:
        raise _fail(str(exc)) from exc
    _push_phones(settings, accounts)
    typer.echo(f"agent {login} disabled")


@app.command("set-skills")
def set_skills(
    login: Annotated[str, typer.Argument(help="The agent's login.")],
    skills: Annotated[str, typer.Argument(help="KB topics, comma-separated ('' for none).")],
) -> None:
    """Replace the agent's skills (the KB topics whose callers they take first)."""
    settings = get_settings()
    try:
        skill_list = parse_skills(skills, _known_topics(settings))
        agent = _accounts(settings).set_skills(login, skill_list)
    except (AgentAccountError, UnknownAgentError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"agent {agent.login}: skills {','.join(agent.skills) or 'none'}")
