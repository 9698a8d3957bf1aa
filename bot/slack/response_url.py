"""Which response_urls the bot may post to: Slack's response host only, so a payload cannot aim the bot elsewhere.

A response_url arrives inside the payload, and the bot POSTs to it; left unchecked, whoever can shape a
payload (or a stored incident row) makes the bot send requests into its own network. Real Slack's look
like `https://hooks.slack.com/commands/T…/…/…` (`hooks.slack-gov.com` for GovSlack), so the allowed host
is derived from SLACK_API_URL; the sandbox answers on the API's own loopback host:port; `response_url_hosts`
in yingji.yaml adds more. A URL must name one of them exactly (case aside): no userinfo, no other port, no
other spelling of the same address, no trailing dot. A response_url is a secret capability: only its host
is ever logged.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.config import DEFAULT_API_URL

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986's characters only: nothing that two URL parsers (ours, and the HTTP client's) could read apart.
URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
WARNED_HOSTS_LIMIT = 1024  # hosts remembered for "log once"; forgotten all together past this


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (where only the sandbox and tests answer Slack's part)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _spellings(scheme: str, host: str, port: int | None) -> set[tuple[str, str]]:
    """The (scheme, netloc) pairs that name host:port, with and without the scheme's default port."""
    name = f"[{host}]" if ":" in host else host
    default = DEFAULT_PORTS[scheme]
    if port is None or port == default:
        return {(scheme, name), (scheme, f"{name}:{default}")}
    return {(scheme, f"{name}:{port}")}


def slack_response_host(api_host: str) -> str:
    """Slack's response host for an API host: slack.com -> hooks.slack.com, slack-gov.com -> hooks.slack-gov.com."""
    for prefix in ("api.", "www."):
        if api_host.startswith(prefix):
            return "hooks." + api_host[len(prefix):]
    return "hooks." + api_host


@dataclass(frozen=True)
class ResponseUrlPolicy:
    """The origins a response_url may name, as (scheme, netloc) pairs spelled the way a URL spells them."""

    origins: frozenset[tuple[str, str]]

    @classmethod
    def from_settings(cls, api_url: str, extra_hosts: Iterable[str] = ()) -> ResponseUrlPolicy:
        """Slack's response host for SLACK_API_URL (the API itself on loopback), plus `response_url_hosts`."""
        api = urlsplit(api_url)
        api_host = api.hostname or ""
        api_scheme = api.scheme if api.scheme in DEFAULT_PORTS else "https"
        origins: set[tuple[str, str]] = set()
        if is_loopback(api_host):
            origins |= _spellings(api_scheme, api_host, api.port)
        else:
            origins |= _spellings("https", slack_response_host(api_host), None)
        for entry in extra_hosts:
            parts = urlsplit("//" + entry.lower())
            host = parts.hostname or ""
            for scheme in {"https", api_scheme} if is_loopback(host) else {"https"}:
                origins |= _spellings(scheme, host, parts.port)
        return cls(frozenset(origins))

    def allows(self, url: object) -> bool:
        """Whether `url` names exactly one of the allowed origins (a URL that does not parse never does)."""
        if not isinstance(url, str) or not URL_CHARACTERS.fullmatch(url):
            return False
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 — raises on a port that is not a number in range
        except ValueError:
            return False
        return (parts.scheme, parts.netloc.lower()) in self.origins


def host_of(url: object) -> str:
    """The host[:port] a URL names, for logs: never its path, query or userinfo (the URL is a capability)."""
    if not isinstance(url, str):
        return "?"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unbalanced [ in the host
        return "?"
    if not host:
        return "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return (f"{host}:{port}" if port is not None else host)[:100]


_policy = ResponseUrlPolicy.from_settings(DEFAULT_API_URL)
_warned: set[str] = set()


def configure(api_url: str, extra_hosts: Iterable[str] = ()) -> None:
    """Set the process's policy from settings, once at start-up (the last Runtime built wins)."""
    global _policy
    _policy = ResponseUrlPolicy.from_settings(api_url, extra_hosts)
    _warned.clear()


def policy() -> ResponseUrlPolicy:
    """The policy in force."""
    return _policy


def check(url: object) -> bool:
    """Whether the bot may post to `url`; a refusal is logged at WARNING once per host, with the host only."""
    if _policy.allows(url):
        return True
    host = host_of(url)
    if host not in _warned:
        if len(_warned) >= WARNED_HOSTS_LIMIT:
            _warned.clear()
        _warned.add(host)
        log.warning("refused to post to a response_url on %r: not Slack's response host "
                    "(add it to response_url_hosts in yingji.yaml if it should be)", host)
    return False
