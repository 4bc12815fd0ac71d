"""Agent accounts' rules: logins, passwords, skills, and the phone's digest credential."""

from __future__ import annotations

import pytest

from hotline.domain.agents import AgentAccountError, check_login, check_password, parse_skills, sip_digest

TOPICS = ("dechets", "eau", "etat-civil")


@pytest.mark.parametrize("login", ["alice", "a1", "jean.dupont", "agent_7", "m-leroy"])
def test_good_logins(login: str) -> None:
    assert check_login(login) == login


@pytest.mark.parametrize(
    "login", ["", "a", "Alice", "jean dupont", "-x", "carrier", "hotline", "bob-auth", "é", "x" * 41, "a;b", "a/b"]
)
def test_bad_logins_are_refused_with_the_rule(login: str) -> None:
    with pytest.raises(AgentAccountError, match="minuscules"):
        check_login(login)


def test_passwords() -> None:
    assert check_password("dix-caract") == "dix-caract"
    with pytest.raises(AgentAccountError, match="au moins 10"):
        check_password("court")
    with pytest.raises(AgentAccountError, match="espace"):
        check_password(" espace-devant")


def test_skills_are_known_topics_each_once_in_order() -> None:
    assert parse_skills("eau, dechets,eau", TOPICS) == ["eau", "dechets"]
    assert parse_skills("", TOPICS) == []
    with pytest.raises(AgentAccountError, match=r"compétence inconnue « voirie ».*dechets, eau, etat-civil"):
        parse_skills("eau,voirie", TOPICS)


def test_sip_digest_is_rfc2617_ha1() -> None:
    # HA1 = MD5(user:realm:password): `echo -n "alice:hotline:secret" | openssl dgst -md5`
    assert sip_digest("alice", "secret") == "0e645a80ff0fe721e173486d01576657"
    assert sip_digest("alice", "secret", realm="asterisk") != sip_digest("alice", "secret")
