"""The agents' SIP phones in Asterisk: pushed through ARI's dynamic configuration, kept by Asterisk in astdb.

Each agent's phone is three PJSIP objects (an endpoint, its aor and its digest auth), written with
`PUT /asterisk/config/dynamic/res_pjsip/<type>/<id>` and deleted with DELETE: a phone can REGISTER the moment
it is pushed, with no reload, and sorcery.conf puts them in astdb, so they are there again after an Asterisk
restart. `sync` pushes the active agents' phones and deletes the disabled ones' (the hotline calls it at every
ARI connection, `hotline agent ...` after each change); the dialplan's fallback queue rings whatever is there.

The credential is the digest HA1, MD5(endpoint:realm:password), never the password itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx

from hotline.domain.agents import SIP_REALM

CONFIG_PATH = "/asterisk/config/dynamic/res_pjsip"
AUTH_SUFFIX = "-auth"
# The same settings as endpoint-common in pjsip.conf: a pushed object cannot inherit a template.
ENDPOINT_FIELDS: tuple[tuple[str, str], ...] = (
    ("transport", "transport-udp"),
    ("context", "from-agent"),
    ("disallow", "all"),
    ("allow", "ulaw,alaw"),
    ("direct_media", "no"),
    ("rtp_symmetric", "yes"),
    ("force_rport", "yes"),
    ("rewrite_contact", "yes"),
    ("dtmf_mode", "rfc4733"),
    ("language", "fr"),
)
AOR_FIELDS: tuple[tuple[str, str], ...] = (("max_contacts", "1"), ("remove_existing", "yes"))
# Endpoints defined in pjsip.conf, never ours to delete.
STATIC_ENDPOINTS = frozenset({"carrier"})
ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class AgentPhoneError(RuntimeError):
    """Asterisk refused or could not be reached."""


@dataclass(frozen=True)
class AgentPhone:
    endpoint: str  # PJSIP endpoint name, also the SIP user the phone registers as
    digest: str  # MD5 HA1 hex
    display_name: str = ""


def check_endpoint_name(name: str) -> str:
    if not ENDPOINT_NAME.match(name) or name in STATIC_ENDPOINTS or name.endswith(AUTH_SUFFIX):
        raise ValueError(
            f"SIP endpoint {name!r}: letters, digits, '_', '.', '-' (at most 40), not ending in -auth, not carrier"
        )
    return name


def _fields(pairs: Iterable[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {"fields": [{"attribute": a, "value": v} for a, v in pairs]}


def _caller_id(phone: AgentPhone) -> str:
    name = re.sub(r'["<>\r\n\\]', "", phone.display_name).strip() or phone.endpoint
    return f'"{name}" <{phone.endpoint}>'


class AgentPhones:
    """The PJSIP objects of agents' phones, over one ARI HTTP client."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @classmethod
    def connect(cls, ari_url: str, user: str, password: str, timeout: float = 5.0) -> AgentPhones:
        return cls(httpx.Client(base_url=ari_url, auth=(user, password), timeout=timeout))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> AgentPhones:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, json: object | None = None) -> httpx.Response:
        try:
            response = self.client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise AgentPhoneError(f"Asterisk's ARI is unreachable ({type(exc).__name__}: {exc})") from exc
        if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
            raise AgentPhoneError(f"ARI {method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def push(self, phone: AgentPhone) -> None:
        """Create or update the phone (auth and aor first: the endpoint names them)."""
        name = check_endpoint_name(phone.endpoint)
        if not re.fullmatch(r"[0-9a-f]{32}", phone.digest):
            raise ValueError(f"{name}: the digest must be 32 lowercase hex digits")
        auth = (
            ("auth_type", "digest"),
            ("username", name),
            ("realm", SIP_REALM),
            ("password_digest", f"md5:{phone.digest}"),
        )
        self._request("PUT", f"{CONFIG_PATH}/auth/{name}{AUTH_SUFFIX}", _fields(auth))
        self._request("PUT", f"{CONFIG_PATH}/aor/{name}", _fields(AOR_FIELDS))
        endpoint = (*ENDPOINT_FIELDS, ("aors", name), ("auth", f"{name}{AUTH_SUFFIX}"), ("callerid", _caller_id(phone)))
        self._request("PUT", f"{CONFIG_PATH}/endpoint/{name}", _fields(endpoint))

    def remove(self, endpoint: str) -> None:
        """Delete the phone (endpoint first, so nothing points at a missing aor or auth); absent: no error."""
        for kind, object_id in (("endpoint", endpoint), ("aor", endpoint), ("auth", f"{endpoint}{AUTH_SUFFIX}")):
            self._request("DELETE", f"{CONFIG_PATH}/{kind}/{object_id}")

    def endpoints(self) -> list[str]:
        """The PJSIP endpoints Asterisk has, the carrier's excepted."""
        rows = self._request("GET", "/endpoints/PJSIP").json()
        return sorted(str(r["resource"]) for r in rows if r.get("resource") not in STATIC_ENDPOINTS)

    def state(self, endpoint: str) -> str | None:
        """'online' (registered), 'offline', or None when Asterisk has no such endpoint."""
        try:
            response = self.client.get(f"/endpoints/PJSIP/{endpoint}")
        except httpx.HTTPError as exc:
            raise AgentPhoneError(f"Asterisk's ARI is unreachable ({exc})") from exc
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return str(response.json().get("state"))

    def sync(self, phones: Sequence[AgentPhone], disabled: Iterable[str] = ()) -> tuple[list[str], list[str]]:
        """Push every phone of `phones`; delete the `disabled` endpoints that Asterisk still has. Endpoints the
        caller does not know of are left alone (another database may have pushed them, e.g. a test's).
        Returns (pushed, removed) endpoint names."""
        for phone in phones:
            self.push(phone)
        present = set(self.endpoints())
        removed = sorted(set(disabled) & present - {p.endpoint for p in phones})
        for name in removed:
            self.remove(name)
        return sorted(p.endpoint for p in phones), removed
