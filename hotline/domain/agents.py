"""Agent accounts: what a login, a skill list and a password must be, and the phone's digest credential."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

SIP_REALM = "hotline"  # the digest realm of every agent phone: the stored credential depends on it
LOGIN = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")  # also the phone's SIP user, so SIP- and config-safe
RESERVED_LOGINS = frozenset({"carrier", "global", "hotline", "anonymous", "transport-udp", "endpoint-common"})
MIN_PASSWORD_LENGTH = 10  # a web password typed by a person; the SIP one is generated
SKILL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # a KB topic


class AgentAccountError(ValueError):
    """A login, password or skill list that cannot be accepted; the message says why."""


def check_login(login: str) -> str:
    if not LOGIN.match(login) or login in RESERVED_LOGINS or login.endswith("-auth"):
        raise AgentAccountError(
            f"identifiant « {login} » : 2 à 40 minuscules, chiffres, '_', '.', '-', commençant par une lettre ou un "
            "chiffre, ne finissant pas par -auth, et pas un nom réservé"
        )
    return login


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AgentAccountError(f"le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères")
    if password != password.strip() or "\n" in password:
        raise AgentAccountError(
            "le mot de passe ne doit ni commencer ni finir par une espace, ni contenir de saut de ligne"
        )
    return password


def parse_skills(text: str, known_topics: Iterable[str]) -> list[str]:
    """'dechets, eau' -> ['dechets', 'eau']: known KB topics only, each once, in the given order."""
    known = set(known_topics)
    skills: list[str] = []
    for raw in text.split(","):
        skill = raw.strip()
        if not skill:
            continue
        if not SKILL.match(skill) or skill not in known:
            topics = ", ".join(sorted(known))
            raise AgentAccountError(f"compétence inconnue « {skill} » : les compétences sont les sujets ({topics})")
        if skill not in skills:
            skills.append(skill)
    return skills


def sip_digest(endpoint: str, password: str, realm: str = SIP_REALM) -> str:
    """The digest HA1, MD5(user:realm:password), that Asterisk checks a REGISTER against."""
    return hashlib.md5(f"{endpoint}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()
