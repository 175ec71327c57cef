"""Sign-in tests' fixtures: the SMS gateway's file backend, and reading the code a
member was texted from it."""

import json
import re

import pytest


@pytest.fixture
def outbox(settings, tmp_path):
    """The console SMS backend writing to a file; returns a reader of what was sent."""
    path = tmp_path / "outbox.jsonl"
    settings.SMS_BACKEND = "dispatch.sms.gateways.ConsoleSmsBackend"
    settings.SMS_OUTBOX_FILE = str(path)

    def sent(to: str | None = None) -> list[dict]:
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [line for line in lines if to is None or line["to"] == to]

    return sent


def code_in(message: dict) -> str:
    """The 6-digit code in a sign-in SMS."""
    return re.search(r"\b(\d{6})\b", message["text"]).group(1)


@pytest.fixture
def imported(make_volunteer):
    """A member as import_roster makes them: no usable password."""

    def make(phone: str = "13800000001", **fields):
        volunteer = make_volunteer(phone, **fields)
        volunteer.user.set_unusable_password()
        volunteer.user.save(update_fields=["password"])
        return volunteer

    return make
