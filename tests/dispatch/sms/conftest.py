"""The SMS tests' fixtures: the gateway (a console outbox in a file, or an HTTP gateway
in a thread), and four rescuers."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from dispatch.availability import index_rebuild
from tests.dispatch.scenes import KM, SITE
from tests.dispatch.sms.scenes import SECRET


@pytest.fixture
def outbox(settings, tmp_path):
    """The console backend writing to a file; returns a reader of what was sent."""
    path = tmp_path / "outbox.jsonl"
    settings.SMS_BACKEND = "dispatch.sms.gateways.ConsoleSmsBackend"
    settings.SMS_OUTBOX_FILE = str(path)
    settings.SMS_FALLBACK_SECONDS = 30
    settings.SMS_INBOUND_SECRET = SECRET

    def sent(to: str | None = None) -> list[dict]:
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [line for line in lines if to is None or line["to"] == to]

    return sent


@pytest.fixture
def gateway(settings):
    """An HTTP SMS gateway on 127.0.0.1, in a thread: records what it receives and
    answers with `status`."""
    received, state = [], {"status": 200}

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
            )
            self.send_response(state["status"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "dispatch.sms.gateways.HttpSmsBackend"
    # Plain http to a gateway on this machine: allowed only in debug (HttpSmsBackend).
    settings.DEBUG = True
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{server.server_port}/sms/send"
    settings.SMS_HTTP_TOKEN = "gateway-token"
    settings.SMS_HTTP_TIMEOUT_SECONDS = 5
    settings.SMS_FALLBACK_SECONDS = 30
    yield SimpleNamespace(received=received, state=state)
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def rescuers(make_volunteer):
    """Four on-duty rescuers, 1 to 4 km north of the site, nearest first."""
    volunteers = [
        make_volunteer(
            f"1390000000{n}",
            on_duty=True,
            last_latitude=SITE[0] + n * KM,
            last_longitude=SITE[1],
        )
        for n in range(1, 5)
    ]
    index_rebuild()
    return volunteers
