"""An HTTP server on 127.0.0.1 serving files a test made (never a real host), with ``Range``
support and faults on demand; and the guard that keeps a test's connections local."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.fileio import sha256_bytes
from core.models.official import Catalogue, OfficialFile, OfficialModel

_RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclass
class Served:
    """One answered request: the file, its Range header, the status and the body bytes sent."""

    name: str
    range: str | None
    status: int
    sent: int = 0


@dataclass
class WeightsServer:
    """``files`` under ``root_url``; ``status[name]`` answers that error instead;
    ``cut_after[name]`` sends only that many body bytes once, then closes the connection;
    ``ranges=False`` ignores Range headers (the whole file, 200); a ``gate`` (an event)
    holds every answer until it is set."""

    files: dict[str, bytes]
    status: dict[str, int] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)
    ranges: bool = True
    gate: threading.Event | None = None
    served: list[Served] = field(default_factory=list)

    def __post_init__(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                record = Served(name, self.headers.get("Range"), 200)
                server.served.append(record)
                if server.gate is not None:
                    server.gate.wait(timeout=60)
                if name in server.status:
                    record.status = server.status[name]
                    self.send_error(record.status)
                    return
                if name not in server.files:
                    record.status = 404
                    self.send_error(404)
                    return
                data = server.files[name]
                start = 0
                match = _RANGE.match(record.range or "")
                if server.ranges and match:
                    start = int(match[1])
                    if start >= len(data):
                        record.status = 416
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    record.status = 206
                self.send_response(record.status)
                if record.status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                body = data[start:]
                if name in server.cut_after:
                    body = body[:server.cut_after.pop(name)]
                record.sent = len(body)  # before the client can have read it all
                try:
                    self.wfile.write(body)
                except ConnectionError:  # the client stopped reading (a cancelled download)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="weights-server", daemon=True)
        self.thread.start()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/weights/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def catalogue(self, models: dict[str, tuple[list[str], str | None]], sizes: bool = True,
                  pins: dict[str, str | None] | None = None) -> Catalogue:
        """A catalogue of this server's files: model id -> (file names, bag YAML or None),
        each file pinned by the sha256 of what is served (or ``pins[name]``)."""
        pins = pins or {}
        table = {}
        for model_id, (names, bag) in models.items():
            files = tuple(OfficialFile(name, pins.get(name, sha256_bytes(self.files[name])),
                                       len(self.files[name]) if sizes else None) for name in names)
            table[model_id] = OfficialModel(model_id, files, bag, ("drums", "bass", "other", "vocals"),
                                            "a tiny test model")
        return Catalogue(self.root_url, table, origin="made by the test", licence="test weights, no licence")


def only_local_connections(monkeypatch) -> None:
    """Make any connection to a host other than 127.0.0.1 fail the test, and keep proxies
    from the environment out of the way."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    real = socket.create_connection

    def local_only(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"a test tried to reach {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", local_only)
