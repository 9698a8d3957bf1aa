"""The status page's responses, rendered from its state: the HTML page and the Atom feed per language, the JSON and the
banner script once (they carry both languages). Every word comes from the catalogs; HTML and XML are autoescaped."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.config import StatusPageConfig
from bot.i18n import t
from bot.status_page.state import (
    HISTORY_DAYS,
    ComponentStatus,
    PublicIncident,
    PublicMaintenance,
    PublicState,
    Update,
)
from bot.times import when
from bot.vocabulary import ComponentState, Language

PAGE, JSON, FEED, BANNER = "page", "json", "feed", "banner"
PER_LANGUAGE = (PAGE, FEED)  # rendered once per language; the JSON and the script carry both
CONTENT_TYPES = {PAGE: "text/html; charset=utf-8", JSON: "application/json", FEED: "application/atom+xml; charset=utf-8",
                 BANNER: "text/javascript; charset=utf-8"}
HTML_LANG: dict[str, str] = {Language.ZH: "zh-CN", Language.EN: "en"}
EPOCH = "1970-01-01T00:00:00+00:00"

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), undefined=StrictUndefined,
                   autoescape=select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default=False),
                   trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Look:
    """The deployment's choices the page shows: its name per language, logo, accent colour and public address."""

    titles: Mapping[str, str]
    logo_url: str | None
    accent: str
    url: str | None
    salt: bytes  # for the feed's ids, as opaque as the page's

    @classmethod
    def of(cls, config: StatusPageConfig, brand: str, salt: bytes) -> Look:
        """From yingji.yaml: the page's title per language, else the brand, else the catalog's."""
        titles: dict[str, str] = {lang.value: config.title.get(lang) or brand.strip()
                                  or t("status_page.page.default_title", lang) for lang in Language}
        return cls(titles, config.logo_url, config.accent, config.url.rstrip("/") if config.url else None, salt)


def _say(lang: str) -> Callable[..., str]:
    """The page's words in one language (status_page.page.*)."""

    def say(name: str, **values: Any) -> str:
        return t(f"status_page.page.{name}", lang, **values)

    return say


def _both(key: str, **values: Any) -> dict[str, str]:
    """One message in every language, for the JSON."""
    return {lang: t(key, lang, **values) for lang in Language}


def _overall_key(state: PublicState) -> str:
    """The overall line: the worst component's state, or that an incident is being handled when none is worse."""
    calm = state.overall in (ComponentState.OPERATIONAL, ComponentState.MAINTENANCE)
    return "incident" if state.incident_ongoing and calm else state.overall


def _paragraphs(text: str) -> list[str]:
    return [paragraph.strip() for paragraph in text.split("\n\n") if paragraph.strip()]


def _update(update: Update, lang: str, state: PublicState) -> dict[str, Any]:
    return {"id": update.public_id, "stage": update.stage, "stage_text": t(f"status.{update.stage}", lang),
            "headline": update.headline, "paragraphs": _paragraphs(update.text), "iso": update.published_at.isoformat(),
            "time": when(update.published_at, state.tz), "language": update.language,
            "foreign": update.language != lang, "language_text": t(f"status_page.language.{update.language}", lang)}


def _incident(incident: PublicIncident, lang: str, state: PublicState) -> dict[str, Any]:
    latest, earlier = incident.shown(lang)
    return {"id": incident.public_id, "drill": incident.drill, "latest": _update(latest, lang, state),
            "earlier": [_update(update, lang, state) for update in earlier]}


def _window(shown: PublicMaintenance, lang: str, state: PublicState) -> dict[str, Any]:
    window = shown.window
    text, language = window.text_in(lang)
    names = {c.id: _name(c, lang) for c in state.components}
    named = t("status_page.page.separator", lang).join(names.get(c, c) for c in window.components)
    return {"id": shown.public_id, "starts": when(window.starts_at, state.tz), "ends": when(window.ends_at, state.tz),
            "starts_iso": window.starts_at.isoformat(), "ends_iso": window.ends_at.isoformat(),
            "components": t("status_page.page.affects", lang, components=named) if named else "",
            "paragraphs": _paragraphs(text), "language": language, "foreign": language != lang,
            "language_text": t(f"status_page.language.{language}", lang)}


def _name(component: ComponentStatus, lang: str) -> str:
    return component.names.get(lang) or component.names.get(Language.EN) or component.id


def _component(component: ComponentStatus, lang: str, state: PublicState) -> dict[str, Any]:
    say = _say(lang)
    days = [{"date": day.isoformat(), "state": mark,
             "title": say("day", day=day.isoformat(), state=t(f"status_page.state.{mark}", lang))}
            for day, mark in zip(state.days, component.days, strict=True)]
    return {"id": component.id, "name": _name(component, lang), "state": component.state,
            "state_text": t(f"status_page.state.{component.state}", lang), "days": days,
            "summary": say("days_summary", days=HISTORY_DAYS, count=component.troubled_days)}


def page(state: PublicState, look: Look, lang: str) -> bytes:
    """The HTML page in one language."""
    other = next(code for code in Language if code != lang)
    return _ENV.get_template("page.html.j2").render(
        say=_say(lang), lang=lang, html_lang=HTML_LANG.get(lang, lang), other_lang=other, title=look.titles[lang],
        logo_url=look.logo_url, accent=look.accent, days=HISTORY_DAYS,
        overall={"state": state.overall, "incident": state.incident_ongoing,
                 "text": t(f"status_page.overall.{_overall_key(state)}", lang)},
        updated=when(state.changed_at, state.tz) if state.changed_at else "",
        ongoing=[_incident(i, lang, state) for i in state.ongoing],
        resolved=[_incident(i, lang, state) for i in state.resolved],
        active=[_window(w, lang, state) for w in state.active], upcoming=[_window(w, lang, state) for w in state.upcoming],
        completed=[_window(w, lang, state) for w in state.completed],
        components=[_component(c, lang, state) for c in state.components],
    ).encode()


def _urn(salt: bytes, name: str) -> str:
    """A stable, opaque Atom id."""
    return f"urn:uuid:{uuid.UUID(bytes=hmac.new(salt, name.encode(), hashlib.sha256).digest()[:16])}"


def feed(state: PublicState, look: Look, lang: str) -> bytes:
    """Atom 1.0: one entry per published version on the page (drills only when shown), newest first."""
    entries = []
    for incident in (*state.ongoing, *state.resolved):
        for update in incident.updates:
            title = t("status_page.feed.entry_title", update.language, headline=update.headline,
                      stage=t(f"status.{update.stage}", update.language))
            if incident.drill:
                title = t("status_page.feed.drill_title", update.language, title=title)
            entries.append({"id": _urn(look.salt, f"update:{update.public_id}"), "language": update.language,
                            "title": title, "published": update.published_at.isoformat(),
                            "link": f"{look.url}?lang={update.language}#incident-{incident.public_id}" if look.url else "",
                            "content": update.text, "at": update.published_at})
    entries.sort(key=lambda entry: (entry["at"], entry["id"]), reverse=True)
    updated = entries[0]["published"] if entries else (state.changed_at.isoformat() if state.changed_at else EPOCH)
    info = {"id": _urn(look.salt, "feed"), "title": look.titles[lang], "subtitle": t("status_page.feed.subtitle", lang),
            "updated": updated, "page": f"{look.url}?lang={lang}" if look.url else "",
            "self": f"{look.url}/feed.atom?lang={lang}" if look.url else ""}
    return _ENV.get_template("feed.xml.j2").render(lang=lang, feed=info, entries=entries).encode()


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _banner(state: PublicState) -> dict[str, dict[str, str] | None]:
    banners = {lang: state.banner(lang) for lang in Language}
    return {lang: {"text": shown[0], "language": shown[1]} if shown else None for lang, shown in banners.items()}


def _json_incident(incident: PublicIncident) -> dict[str, Any]:
    latest = {}
    for lang in Language:
        update = incident.latest_in(lang)
        if update is not None:
            latest[lang] = {"id": update.public_id, "stage": update.stage, "headline": update.headline,
                            "text": update.text, "banner": update.banner,
                            "push": {"title": update.push_title, "body": update.push_body},
                            "published_at": _stamp(update.published_at)}
    return {"id": incident.public_id, "drill": incident.drill, "stage": incident.latest.stage,
            "started_at": _stamp(incident.started_at), "updated_at": _stamp(incident.latest.published_at),
            "components": dict(incident.components), "latest": latest,
            "updates": [{"id": u.public_id, "language": u.language, "stage": u.stage, "headline": u.headline,
                         "text": u.text, "published_at": _stamp(u.published_at)} for u in incident.updates]}


def _json_window(shown: PublicMaintenance) -> dict[str, Any]:
    window = shown.window
    return {"id": shown.public_id, "starts_at": _stamp(window.starts_at), "ends_at": _stamp(window.ends_at),
            "components": list(window.components), "text": dict(window.text)}


def status_json(state: PublicState, look: Look) -> bytes:
    """The widget API: everything a shop's banner or an app's popup needs, in both languages, ready to show."""
    body = {
        "page": {"title": dict(look.titles), "url": look.url, "updated_at": _stamp(state.changed_at)},
        "overall": {"state": state.overall, "incident": state.incident_ongoing,
                    "text": _both(f"status_page.overall.{_overall_key(state)}")},
        "banner": _banner(state),
        "components": [{"id": c.id, "name": {lang: _name(c, lang) for lang in Language}, "state": c.state,
                        "text": _both(f"status_page.state.{c.state}")} for c in state.components],
        "incidents": [_json_incident(incident) for incident in state.ongoing],
        "maintenance": {"active": [_json_window(w) for w in state.active],
                        "upcoming": [_json_window(w) for w in state.upcoming]},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def banner_script(state: PublicState, look: Look) -> bytes:
    """banner.js with today's banner inlined (one request from a shop page, no CORS), safe inside a script."""
    data = {"banner": _banner(state), "state": _overall_key(state), "accent": look.accent, "link": look.url or "",
            "details": _both("status_page.page.details")}
    inlined = json.dumps(data, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _ENV.get_template("banner.js.j2").render(data=inlined).encode()


def render_all(state: PublicState, look: Look) -> dict[tuple[str, str], bytes]:
    """Every response the board serves, by (route, language); "" for the ones that carry both languages."""
    rendered: dict[tuple[str, str], bytes] = {(PAGE, lang.value): page(state, look, lang) for lang in Language}
    rendered |= {(FEED, lang.value): feed(state, look, lang) for lang in Language}
    rendered[JSON, ""] = status_json(state, look)
    rendered[BANNER, ""] = banner_script(state, look)
    return rendered
