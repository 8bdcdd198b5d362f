"""A healthy webhook receiver for the webhooks benchmark: `python -m bench.webhook_receiver --port P`.

Every POST is answered 200 at once (HTTP/1.1, connections kept open, as a real receiver behind a load balancer
would); the receiver keeps, per delivery, when it arrived (`time.monotonic()`, which on Linux is one clock for
every process of the machine, so the benchmark can compare it with its own), the event id, the key and the
delivered resource's name. `GET /received` answers them as JSON lines; `GET /count` how many there are.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Deliveries:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: list[bytes] = []

    def add(self, arrived: float, body: bytes) -> None:
        try:
            document = json.loads(body)
            data = (document.get("payload") or {}).get("data") or {}
            record = {
                "at": arrived,
                "id": document.get("id"),
                "triggered_by": document.get("triggered_by"),
                "attempt": document.get("attempt"),
                "name": (data.get("attributes") or {}).get("name"),
            }
        except (ValueError, AttributeError):
            record = {"at": arrived, "id": None}
        line = json.dumps(record, separators=(",", ":")).encode()
        with self.lock:
            self.lines.append(line)


def handler(deliveries: Deliveries) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer goes out as two writes (head, then body): with Nagle's algorithm the second waits for
        # the sender's delayed ACK, 40 ms a request on a kept-alive connection.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            deliveries.add(time.monotonic(), body)
            self._answer(b"ok", "text/plain")

        def do_GET(self) -> None:
            with deliveries.lock:
                lines = list(deliveries.lines)
            if self.path == "/count":
                self._answer(str(len(lines)).encode(), "text/plain")
            elif self.path == "/received":
                self._answer(b"\n".join(lines), "application/x-ndjson")
            else:
                self.send_error(404)

        def _answer(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the delivery loop opens several connections at once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    Server(("127.0.0.1", args.port), handler(Deliveries())).serve_forever()


if __name__ == "__main__":
    main()
