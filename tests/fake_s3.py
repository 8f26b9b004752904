"""A read-only S3 endpoint in a thread, so cloud loading is tested for real without a cloud.

It answers HEAD and GET (with ranges) of the objects it is given, as pyarrow's
S3 file system asks for them; signatures are not checked. The tiercube server
reads from it like from any S3-compatible store (``S3Location(endpoint=...)``).
"""

from __future__ import annotations

import email.utils
import threading
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tiercube import S3Location

BUCKET = "tiercube-test"


class FakeS3:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def location(self, key: str) -> S3Location:
        return S3Location(f"s3://{BUCKET}/{key}", endpoint=self.endpoint, access_key="test", secret_key="test")


@contextmanager
def fake_s3(objects: Mapping[str, bytes]) -> Generator[FakeS3]:
    """Serve ``objects`` (key -> content) from the bucket ``BUCKET``."""
    stored = {f"/{BUCKET}/{key}": content for key, content in objects.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes, send_body: bool) -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.send_header("last-modified", email.utils.formatdate(usegmt=True))
            self.send_header("etag", '"tiercube"')
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def _object(self, send_body: bool) -> None:
            content = stored.get(self.path.split("?")[0])
            if content is None:
                self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>", send_body)
                return
            requested = self.headers.get("range")
            if requested is None or not send_body:
                self._answer(200, content, send_body)
                return
            first, _, last = requested.removeprefix("bytes=").partition("-")
            end = min(int(last), len(content) - 1) if last else len(content) - 1
            self._answer(206, content[int(first) : end + 1], send_body)

        def do_HEAD(self) -> None:
            self._object(send_body=False)

        def do_GET(self) -> None:
            self._object(send_body=True)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-s3", daemon=True)
    thread.start()
    try:
        yield FakeS3(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
