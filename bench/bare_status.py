"""The status page's baseline: aiohttp alone, answering each path with bytes fetched from yingji beforehand
and the same headers, with nothing computed per request — what serving the page costs at the least."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from aiohttp import web


def build(pages: dict[str, tuple[bytes, dict[str, str]]]) -> web.Application:
    """One route per path, answering its stored body and headers."""
    app = web.Application()
    for path, (body, headers) in pages.items():
        async def answer(_: web.Request, body: bytes = body, headers: dict[str, str] = headers) -> web.Response:
            return web.Response(body=body, headers=headers)

        app.router.add_get(path, answer)
    return app


def load(directory: Path) -> dict[str, tuple[bytes, dict[str, str]]]:
    """The pages saved by the bench: index.json maps each path to its body file and headers."""
    index = json.loads((directory / "index.json").read_text())
    return {path: ((directory / entry["file"]).read_bytes(), entry["headers"]) for path, entry in index.items()}


if __name__ == "__main__":
    web.run_app(build(load(Path(sys.argv[1]))), host="127.0.0.1", port=int(os.environ["PORT"]), print=None,
                access_log=None)
