"""What must hold after the crash test: every acked action stored, every Slack operation done once."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.sandbox.server import Sandbox
from tests.crash_harness import Action, op_of, rows


def check_acked_in_db(db: Path, sent: list[Action]) -> None:
    """Every acked action is stored; nothing was declared twice."""
    incidents = {r["key"]: r for r in rows(db, "SELECT * FROM incident")}
    titles = Counter(r["title"] for r in incidents.values())
    assert all(n == 1 for n in titles.values()), f"declared twice: {titles}"
    assert set(titles) <= {a.want["title"] for a in sent if a.kind == "declare"}
    for action in (a for a in sent if a.acked):
        if action.kind == "declare":  # answered after its ack, if the kill let it be: found by its title
            assert action.want["title"] in titles, action
            key = re.search(r"INC-\d+", action.reply)
            assert key is None or incidents[key.group(0)]["title"] == action.want["title"], action
            continue
        incident_id = incidents[action.key]["id"]
        if action.kind == "role":
            assert rows(db, "SELECT 1 FROM roleassignment WHERE incident_id = ? AND role = ? AND user_id = ?",
                         incident_id, action.want["role"], action.want["user"]), action
        elif action.kind == "note":
            assert len(rows(db, "SELECT 1 FROM timelineevent WHERE incident_id = ? AND kind = 'note' AND text = ?",
                             incident_id, action.want["text"])) == 1, action
        else:
            assert rows(db, "SELECT 1 FROM step WHERE incident_id = ? AND number = ? AND done_at IS NOT NULL",
                         incident_id, action.want["number"]), action


def check_outbox(db: Path) -> None:
    """Every Slack operation finished: none waiting, none claimed forever, none given up."""
    unfinished = [dict(r) for r in rows(db, "SELECT id, incident_id, kind, status, error FROM slackop "
                                             "WHERE status != 'done'")]
    assert unfinished == []


def op_tags(sb: Sandbox) -> Iterator[tuple[str, int, int]]:
    """(channel, op, part) of every message an outbox operation posted, in every conversation."""
    for channel in sb.channels.values():
        for message in channel.messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if "op" in payload:
                yield channel.id, int(payload["op"]), int(payload.get("part", 0))


def check_slack(db: Path, sb: Sandbox, announce: str) -> None:
    """Each incident: one channel, topic and purpose, invites, one pinned header, its checklist, one
    announcement, each note echoed once, each done step shown done; no operation posted twice."""
    doubled = [tag for tag, n in Counter(op_tags(sb)).items() if n > 1]
    assert doubled == [], f"posted twice: {doubled}"
    for incident in rows(db, "SELECT * FROM incident ORDER BY id"):
        key, cid = incident["key"], incident["channel_id"]
        named = [c.id for c in sb.channels.values() if c.name.startswith(f"inc-{incident['id']}-")]
        assert named == [cid], f"{key}: channels {named}, stored {cid}"
        channel = sb.channels[cid]
        assert key in channel.topic and key in channel.purpose, key
        holders = {r["user_id"] for r in rows(db, "SELECT user_id FROM roleassignment WHERE incident_id = ? "
                                                   "AND ended_at IS NULL", incident["id"])}
        assert {incident["declared_by"], *holders} <= channel.members, key
        messages = sb.messages(cid)
        headers = [m for m in messages if "open_assign_roles" in json.dumps(m.get("blocks"))]
        assert [m["ts"] for m in headers] == [incident["header_ts"]] and channel.pins == [incident["header_ts"]], key
        steps = rows(db, "SELECT * FROM step WHERE incident_id = ?", incident["id"])
        lists = {m["ts"]: m["blocks"] for m in messages if f"{key} · Checklist" in json.dumps(m.get("blocks"), ensure_ascii=False)}
        assert set(lists) == {s["message_ts"] for s in steps}, key
        for step in (s for s in steps if s["done_at"] is not None):
            [shown] = [b for b in lists[step["message_ts"]] if b.get("block_id") == f"step-{step['id']}"]
            assert shown["text"]["text"].startswith(":white_check_mark:"), f"{key} step {step['number']} not shown done"
        announced = [m for m in sb.messages(announce) if re.search(rf"{key}\b", m.get("text", ""))]
        assert len(announced) == 1, f"{key}: {len(announced)} announcements"
        for note in rows(db, "SELECT text FROM timelineevent WHERE incident_id = ? AND kind = 'note'", incident["id"]):
            echoes = [m for m in messages if note["text"] in m.get("text", "")]
            assert len(echoes) == 1, f"{key}: note {note['text']!r} echoed {len(echoes)} times"


def check_replayed(db: Path, sb: Sandbox, posting: dict[str, Any], creating: dict[str, Any]) -> None:
    """The calls cut off by a kill were run again after the restart, and what they did is there once."""
    [post] = rows(db, "SELECT status, attempts FROM slackop WHERE id = ?", op_of(posting))
    assert post["status"] == "done" and post["attempts"] >= 2
    assert [op for _, op, _ in op_tags(sb)].count(op_of(posting)) >= 1
    made = [c for c in sb.channels.values() if c.name == creating["name"]]
    assert len(made) == 1
    [owner] = rows(db, "SELECT id FROM incident WHERE channel_id = ?", made[0].id)
    [create] = rows(db, "SELECT status, attempts FROM slackop WHERE incident_id = ? AND kind = 'create_channel'",
                     owner["id"])
    assert create["status"] == "done" and create["attempts"] >= 2


def check_logs(logs: list[Path]) -> None:
    """No unhandled exception in any run of the process."""
    for log in logs:
        text = log.read_text(errors="replace")
        bad = [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line
               or "never retrieved" in line]
        assert bad == [], f"{log.name}: {bad[:5]}"
