"""A read-only S3 endpoint in a thread, so cloud loading is tested for real without a cloud.

It answers HEAD and GET (with ranges) of the objects put in it, as pyarrow's
S3 file system asks for them; signatures are not checked. Each test process
starts one (``shared_fake_s3``) and the test servers' configs declare it as
their cloud store ``test``: a server reads only from stores it declares.
"""

from __future__ import annotations

import email.utils
import functools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tiercube import S3Location

BUCKET = "tiercube-test"
STORE = "test"


class FakeS3:
    def __init__(self, endpoint: str, objects: dict[str, bytes]) -> None:
        self.endpoint = endpoint
        self.objects = objects

    def put(self, key: str, content: bytes) -> S3Location:
        self.objects[f"/{BUCKET}/{key}"] = content
        return self.location(key)

    def location(self, key: str) -> S3Location:
        return S3Location(f"s3://{BUCKET}/{key}", endpoint=self.endpoint, access_key="test", secret_key="test")

    @property
    def toml(self) -> str:
        """The config section that declares this endpoint as the server's cloud store ``test``."""
        return f'\n[[cloud_stores]]\nname = "{STORE}"\nendpoint = "{self.endpoint}"\nanonymous = true\n'


@functools.cache
def shared_fake_s3() -> FakeS3:
    """This process's fake S3, started on first use and serving until the process ends."""
    objects: dict[str, bytes] = {}

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
            content = objects.get(self.path.split("?")[0])
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
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-s3", daemon=True).start()
    return FakeS3(f"http://127.0.0.1:{server.server_address[1]}", objects)
