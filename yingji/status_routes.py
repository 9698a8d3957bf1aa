"""The public status page's HTTP side: GET/HEAD /status, /status.json, /status/feed.atom, /status/banner.js (and
OPTIONS for CORS). Each answer is the board's bytes as they are, or gzipped once for every reader who takes it: the
language chosen, 304 for a reader who has them, cache headers for the crowd; nothing here reads the database."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import FileConfig
from bot.i18n import t
from bot.metrics import observed
from bot.status_page.board import Response, StatusBoard
from bot.status_page.render import BANNER, FEED, JSON, PAGE, PER_LANGUAGE
from bot.vocabulary import Language

PATHS = {"/status": PAGE, "/status.json": JSON, "/status/feed.atom": FEED, "/status/banner.js": BANNER}
MAX_AGE = 30  # seconds a browser or CDN may reuse an answer: a crowd costs one request per reader per half minute
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since",
        "Access-Control-Expose-Headers": "ETag, Last-Modified", "Access-Control-Max-Age": "86400"}


def _quality(params: str) -> float:
    """The `q=` of one item's parameters in an Accept-* header (1 when absent, 0 when unreadable)."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def choose_language(asked: str | None, accept: str | None, default: str) -> tuple[str, bool]:
    """zh or en: `?lang=`, else the best of Accept-Language, else the deployment's; and whether Accept-Language
    decided (then caches must keep one answer per language)."""
    if asked and Language.known(asked.strip().lower()):
        return asked.strip().lower(), False
    ranked: list[tuple[float, int, str]] = []
    for order, item in enumerate((accept or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = _quality(params)
        primary = tag.strip().lower().split("-")[0]
        if quality > 0 and Language.known(primary):
            ranked.append((-quality, order, primary))
    return (min(ranked)[2] if ranked else default), True


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether the reader takes gzip (RFC 9110 §12.5.3): named with a quality above 0, else `*` so; a phone on mobile
    data then gets the page in a third of the bytes."""
    named: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.partition(";")
        named[coding.strip().lower()] = _quality(params)
    quality = named.get("gzip", named.get("x-gzip", named.get("*", 0.0)))
    return quality > 0


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match against a strong ETag, by the weak comparison RFC 9110 asks for GET."""
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def not_modified(request: web.Request, etag: str, last_modified: datetime) -> bool:
    """Whether the reader already has these bytes: If-None-Match first; If-Modified-Since only without it."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _matches(if_none_match, etag)
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return moment.tzinfo is not None and last_modified <= moment


def _security(file: FileConfig) -> dict[str, str]:
    """The page fetches nothing but the configured logo; it runs no script and submits no form."""
    logo = file.status_page.logo_url
    origin = f"{urlsplit(logo).scheme}://{urlsplit(logo).netloc}" if logo else "'none'"
    return {"Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; img-src {origin}; "
                                       "base-uri 'none'; form-action 'none'",
            "Referrer-Policy": "no-referrer"}


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@dataclass(frozen=True)
class Encoded:
    """One representation of a response (as rendered, or gzipped): its bytes, its strong ETag, and its headers for
    a 200 and a 304, each with and without the language negotiated. A crowd's request costs a lookup."""

    body: bytes
    etag: str
    headers: dict[tuple[bool, bool], dict[str, str]]  # (not modified, negotiated) -> headers


@dataclass(frozen=True)
class Answer:
    """A board response, ready to send as it is or gzipped."""

    response: Response
    plain: Encoded
    gzipped: Encoded


def answer_for(route: str, response: Response, page_headers: dict[str, str]) -> Answer:
    """Both representations and their headers (a 304 has no Content-Type: it sends no body). Gzip is deterministic
    (no timestamp), so replicas agree on its ETag; a body it would not shrink is sent as it is."""
    common = {"Last-Modified": _http_date(response.last_modified), "Cache-Control": f"public, max-age={MAX_AGE}",
              "X-Content-Type-Options": "nosniff", **CORS, **(page_headers if route == PAGE else {})}

    def encoded(body: bytes, etag: str, coding: dict[str, str]) -> Encoded:
        same = {"ETag": etag, **common, **coding}
        ok = {**same, "Content-Type": response.content_type}
        vary = {False: "Accept-Encoding", True: "Accept-Encoding, Accept-Language" if route in PER_LANGUAGE else
                "Accept-Encoding"}
        return Encoded(body, etag, {(gone, negotiated): (same if gone else ok) | {"Vary": vary[negotiated]}
                                    for gone in (False, True) for negotiated in (False, True)})

    plain = encoded(response.body, response.etag, {})
    squeezed = gzip.compress(response.body, compresslevel=9, mtime=0)
    if len(squeezed) >= len(response.body):
        return Answer(response, plain, plain)
    return Answer(response, plain, encoded(squeezed, f'{response.etag[:-1]}-gzip"', {"Content-Encoding": "gzip"}))


def add_routes(web_app: web.Application, board: StatusBoard, file: FileConfig) -> None:
    """The four public routes (HEAD comes with GET) and their CORS preflight."""
    page_headers = _security(file)
    answers: dict[tuple[str, str], Answer] = {}  # rebuilt lazily when the board swaps a response

    def serving(route: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        per_language = route in PER_LANGUAGE

        async def serve(request: web.Request) -> web.Response:
            key = (route, "")
            negotiated = False
            if per_language:
                asked = request.query.get("lang") if request.query_string else None
                lang, negotiated = choose_language(asked, request.headers.get("Accept-Language"), file.language)
                key = (route, lang)
            response = board.response(*key)
            if response is None:
                return web.Response(status=503, text=t("status_page.page.unavailable", key[1] or file.language),
                                    headers={"Retry-After": "5", "Cache-Control": "no-store", **CORS})
            answer = answers.get(key)
            if answer is None or answer.response is not response:
                answer = answers[key] = answer_for(route, response, page_headers)
            sent = answer.gzipped if accepts_gzip(request.headers.get("Accept-Encoding")) else answer.plain
            if not_modified(request, sent.etag, response.last_modified):
                return web.Response(status=304, headers=sent.headers[True, negotiated])
            return web.Response(body=sent.body, headers=sent.headers[False, negotiated])

        return serve

    async def preflight(_: web.Request) -> web.Response:
        return web.Response(status=204, headers=CORS)

    for path, route in PATHS.items():
        web_app.router.add_get(path, observed(path, serving(route)))
        web_app.router.add_route("OPTIONS", path, preflight)
