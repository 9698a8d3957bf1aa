"""Every way in passes one gate: each listener registered on the bolt app, run through signed HTTP as every
kind of person, with stale ids, and twice.

- The matrix: every entry (tests/gate_entries.py) as the right person, a channel member without the role, a
  non-member of a public incident, and an outsider to a private one. "yes" must happen; "no" is refused
  specifically, recorded once on the timeline, and changes nothing; "hidden" changes nothing, records
  nothing, never shows the private title, and reads exactly as the answer for an id that names nothing.
- Stale ids (a deleted message's button, a forged id, INC-99999) change nothing and say so.
- Twice: the right person's request replayed byte for byte, then as Slack's retry (X-Slack-Retry-Num):
  nothing changes a second time.
- Coverage: every listener the bolt app registers is hit by some entry, and every `/incident` subcommand
  has one; a button or event added later without an entry here fails this file.
- A maintenance window belongs to no incident: its rows (comms_reviewer, comms_approver, canceller, drafter) refuse everyone
  but the right person alike, whatever they are to the scene's incident, and never hide anything.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.sandbox.server import Sandbox
from commands.router import HANDLERS
from tests.gate_entries import ENTRIES, SUBCOMMANDS, Entry, fill
from tests.gate_world import RIGHT, SECRET, Scene, World, changed, config, refusals, snapshot
from tests.helpers import BACKENDS, SKIP_POSTGRES, Database, postgres_server
from yingji.app import build_bolt_app
from yingji.local import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXPECTED = """
need       right  member  non_member  outsider
see        yes    yes     yes         hidden
member     yes    yes     no          hidden
reviewer   yes    yes     no          hidden
manager    yes    no      no          hidden
handover   yes    no      no          hidden
approver   yes    no      no          hidden
publisher  yes    no      no          hidden
legal      yes    no      no          hidden
anyone     yes    yes     yes         yes
slack      yes    -       -           -
comms_reviewer  yes  no   no          no
comms_approver  yes  no   no          no
canceller  yes    no      no          no
drafter    yes    no      no          no
"""
PERSONAS = ("right", "member", "non_member", "outsider")
PLAYED_BY = {"member": "liu.yang", "non_member": "guest", "outsider": "guest"}
SILENT = {"pin_added", "reaction_added", "message", "member_joined_channel", "member_left_channel"}  # events: no reply


def _expected() -> dict[str, dict[str, str]]:
    lines = [line.split() for line in EXPECTED.strip().splitlines()]
    return {row[0]: dict(zip(lines[0][1:], row[1:], strict=True)) for row in lines[1:]}


EXPECT = _expected()
CASES = [(e, p) for e in ENTRIES for p in PERSONAS if EXPECT[e.need][p] != "-"]


class Shared:
    """Scenes the refused and hidden cases share (they must change nothing), made once per variant."""

    def __init__(self, world: World) -> None:
        self.world, self.scenes = world, {}

    async def get(self, private: bool, options: dict[str, bool] | None) -> Scene:
        key = (private, tuple(sorted((options or {}).items())))
        if key not in self.scenes:
            self.scenes[key] = await self.world.scene(private=private, **(options or {}))
        return self.scenes[key]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                postgres_template: str | None) -> AsyncIterator[tuple[World, Shared]]:
    """One stack for the module, on each database."""
    if request.param == "postgresql" and postgres_server() is None:
        pytest.skip(SKIP_POSTGRES)
    database = Database(request.param, server=postgres_server(), template=postgres_template)
    data_dir: Path = tmp_path_factory.mktemp("gate")
    sandbox = Sandbox(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN, rate_limits=False)
    await sandbox.start()
    stack = await LocalStack.start(data_dir, sandbox=sandbox, config=config, database_url=database.url_for(data_dir))
    w = World(stack)
    try:
        yield w, Shared(w)
    finally:
        await stack.stop()
        database.drop_all()


def _normal(text: str) -> str:
    return re.sub(r"INC-\d+", "INC-n", text)


@pytest.mark.parametrize(("entry", "persona"), CASES, ids=[f"{e.name}-{p}" for e, p in CASES])
async def test_gate(world: tuple[World, Shared], entry: Entry, persona: str) -> None:
    w, shared = world
    expect = EXPECT[entry.need][persona]
    name = RIGHT.get(entry.need, "zhang.wei") if persona == "right" else PLAYED_BY[persona]
    private = persona == "outsider"
    scene = await (w.scene(private=private, **(entry.scene or {})) if expect == "yes"
                   else shared.get(private, entry.scene))
    await fill(w, entry, scene)
    before, refused_before, mark = await snapshot(w.stack), await refusals(w.stack, scene, w.user(name)), w.mark(name)
    reply = await entry.send(w, scene, name, False)
    after = await snapshot(w.stack)
    told = w.told(name, mark, reply).joined()
    refused = await refusals(w.stack, scene, w.user(name)) - refused_before
    case = f"{entry.name} by {persona} ({name}): told {told!r} (answered {reply.status} {reply.body[:200]!r})"
    if private:
        assert SECRET not in told and scene.channel not in told, case
    if expect == "yes":
        assert await entry.happened(w, scene, before, after, told), f"{case}: did not happen"
        assert refused == 0, case
        return
    assert not changed(before, after), f"{case}: changed {changed(before, after)}"
    if expect == "no":
        assert refused >= 1, f"{case}: the refusal is not on the timeline"
        assert entry.name in SILENT or told, f"{case}: refused without a word"
        return
    assert refused == 0, f"{case}: a hidden incident's timeline recorded an outsider"
    if entry.name not in SILENT:
        stale_mark = w.mark(name)
        stale = w.told(name, stale_mark, await entry.send(w, scene, name, True)).joined()
        assert told and _normal(told) == _normal(stale), f"{case}: differs from the answer for nothing: {stale!r}"


STALE_CASES = [e for e in ENTRIES if e.need not in ("anyone",)]


@pytest.mark.parametrize("entry", STALE_CASES, ids=[e.name for e in STALE_CASES])
async def test_stale_ids_change_nothing(world: tuple[World, Shared], entry: Entry) -> None:
    w, shared = world
    scene = await shared.get(False, entry.scene)
    name = RIGHT.get(entry.need, "zhang.wei")
    await fill(w, entry, scene)
    before, mark = await snapshot(w.stack), w.mark(name)
    reply = await entry.send(w, scene, name, True)
    assert reply.status == 200, reply.body
    assert not changed(before, await snapshot(w.stack)), entry.name
    told = w.told(name, mark, reply).joined()
    assert entry.name in SILENT or told, f"{entry.name}: a stale request should be told it names nothing"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
async def test_twice_changes_nothing_twice(world: tuple[World, Shared], entry: Entry) -> None:
    w, _ = world
    scene = await w.scene(**(entry.scene or {}))
    await fill(w, entry, scene)
    await entry.send(w, scene, RIGHT.get(entry.need, "zhang.wei"), False)
    once = await snapshot(w.stack)
    for retry in (None, 1):
        replayed = await w.stack.actor.replay(retry_num=retry)
        await w.stack.settle()
        assert replayed.status == 200, replayed.body
        assert not changed(once, await snapshot(w.stack)), f"{entry.name} replayed (retry {retry}) changed something"


async def test_every_listener_and_subcommand_has_an_entry(world: tuple[World, Shared]) -> None:
    w, shared = world
    assert set(HANDLERS) == SUBCOMMANDS, "an /incident subcommand without a gate entry (or one removed)"
    scene = await shared.get(False, None)
    sent: list[tuple[bytes, dict[str, str]]] = []
    for entry in ENTRIES:
        await fill(w, entry, scene)
        await entry.send(w, scene, "guest", entry.need != "anyone")
        assert w.stack.actor.last_request is not None
        sent.append(w.stack.actor.last_request)
    app = build_bolt_app(w.stack.rt)
    for listener in app._async_listeners:  # bolt keeps them here; there is no public list
        hit = False
        for body, headers in sent:
            request = AsyncBoltRequest(body=body.decode(), headers={k.lower(): [v] for k, v in headers.items()})
            if await listener.async_matches(req=request, resp=BoltResponse(status=200)):
                hit = True
                break
        assert hit, f"a listener no gate entry reaches: {listener.ack_function.__name__}"
