"""A small TVmaze stand-in served over real HTTP on 127.0.0.1, for tests and the benchmark."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


def make_show(show_id: int, name: str, tvdb_id: int | None = None, updated: int | None = None):
    return {
        "id": show_id,
        "name": name,
        "status": "Running",
        "premiered": "2011-04-17",
        "ended": None,
        "language": "English",
        "genres": ["Drama"],
        "network": {"name": "HBO"},
        "summary": f"<p>All about <b>{name}</b>.</p>",
        "image": {"medium": f"https://static.example/{show_id}.jpg"},
        "externals": {"thetvdb": tvdb_id, "imdb": f"tt{show_id:07d}"},
        "updated": updated or int(time.time()) - 3600,
    }


def make_episodes(show_id: int, count: int, first_id: int | None = None, airdate="2020-01-01"):
    first_id = first_id or show_id * 1000
    return [
        {
            "id": first_id + n,
            "season": 1 + n // 10,
            "number": 1 + n % 10,
            "name": f"Episode {n + 1}",
            "airdate": airdate,
            "airstamp": f"{airdate}T01:00:00+00:00",
            "runtime": 60,
            "summary": "<p>Something happens.</p>",
            "_links": {"show": {"href": f"/shows/{show_id}"}},
        }
        for n in range(count)
    ]


@dataclass
class FakeTVmaze:
    shows: dict[int, dict[str, Any]] = field(default_factory=dict)
    episodes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    updates: dict[int, int] = field(default_factory=dict)
    broken: dict[str, int] = field(default_factory=dict)  # path -> status to answer instead
    flaky: dict[str, int] = field(default_factory=dict)  # path -> 500s to answer before working
    too_many: int = 0  # answer this many next requests with 429
    retry_after: float = 1
    calls: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_show(
        self, show_id: int, name: str, episodes: int = 3, tvdb_id: int | None = None, **kwargs
    ) -> dict:
        self.shows[show_id] = make_show(show_id, name, tvdb_id, **kwargs)
        self.episodes[show_id] = make_episodes(show_id, episodes)
        return self.shows[show_id]

    def paths(self) -> list[str]:
        return [path for _, path in self.calls]

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path
        with self.lock:
            self.calls.append((time.monotonic(), request.full_path.rstrip("?")))
            if self.too_many > 0:
                self.too_many -= 1
                response = Response("slow down", 429, {"Retry-After": str(self.retry_after)})
                return response(environ, start_response)
            if self.flaky.get(path, 0) > 0:
                self.flaky[path] -= 1
                return Response("hiccup", 500)(environ, start_response)
        if path in self.broken:
            return Response("broken", self.broken[path])(environ, start_response)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts[:1] == ["shows"] and len(parts) >= 2 and parts[1].isdigit():
            show_id = int(parts[1])
            if show_id not in self.shows:
                return _json({"name": "Not Found", "status": 404}, 404)
            if len(parts) == 2:
                return _json(self.shows[show_id])
            if parts[2:] == ["episodes"]:
                return _json(self.episodes.get(show_id, []))
        if parts == ["lookup", "shows"]:
            tvdb = request.args.get("thetvdb", type=int)
            for show in self.shows.values():
                if show["externals"]["thetvdb"] == tvdb:
                    return Response("", 301, {"Location": f"/shows/{show['id']}"})
            return _json({"name": "Not Found", "status": 404}, 404)
        if parts[:1] == ["episodes"] and len(parts) == 2 and parts[1].isdigit():
            for episodes in self.episodes.values():
                for episode in episodes:
                    if episode["id"] == int(parts[1]):
                        return _json(episode)
            return _json({"name": "Not Found", "status": 404}, 404)
        if parts == ["updates", "shows"]:
            return _json({str(k): v for k, v in self.updates.items()})
        return _json({"name": "Not Found", "status": 404}, 404)


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status, mimetype="application/json")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class FakeServer:
    """Serves a FakeTVmaze in a thread; ``url`` is its base URL."""

    def __init__(self, fake: FakeTVmaze) -> None:
        self.fake = fake
        self.server = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
