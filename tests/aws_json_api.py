"""A stand-in for an AWS JSON API that moto lacks (Redshift Serverless), over real HTTP.

moto 5.2.5 has no ``redshift-serverless``: tests serve its operations from a
handler of their own, on loopback, and point boto3 at it through
``AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Answers one operation: (operation name, request body) -> (HTTP status, response body).
Handle = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


@contextmanager
def json_api(handle: Handle) -> Iterator[str]:
    """Serve an AWS JSON 1.1 API (``X-Amz-Target`` names the operation); yield its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            operation = self.headers["X-Amz-Target"].rpartition(".")[2]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            code, payload = handle(operation, body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
