"""A local instance metadata service speaking IMDSv2, for agent tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeImds:
    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = dict(metadata)
        self.tokens: set[str] = set()
        self.token_requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                if self.path != "/latest/api/token" or "X-aws-ec2-metadata-token-ttl-seconds" not in self.headers:
                    self.send_error(400)
                    return
                fake.token_requests += 1
                token = f"token-{fake.token_requests}"
                fake.tokens.add(token)
                self._reply(200, token)

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") not in fake.tokens:
                    self._reply(401, "")
                    return
                value = fake.metadata.get(self.path)
                self._reply(404, "") if value is None else self._reply(200, value)

            def _reply(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set_termination(self, at_iso: str) -> None:
        self.metadata["/latest/meta-data/spot/instance-action"] = json.dumps({"action": "terminate", "time": at_iso})

    def set_rebalance(self, at_iso: str) -> None:
        self.metadata["/latest/meta-data/events/recommendations/rebalance"] = json.dumps({"noticeTime": at_iso})

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def close(self) -> None:
        self.server.shutdown()
