"""`make run` serves the embedded demo (published passwords) on loopback only,
unless told explicitly."""

import subprocess
import sys

import pytest

from config.bind_guard import refusal


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_it_serves_the_demo_on_loopback(host):
    assert refusal(host, environ={}) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "tongxin.example.cn"])
def test_it_refuses_the_demo_on_the_network(host):
    assert "ALLOW_DEMO_ON_NETWORK=1" in refusal(host, environ={})


def test_it_serves_the_demo_on_the_network_when_told_explicitly():
    assert refusal("0.0.0.0", environ={"ALLOW_DEMO_ON_NETWORK": "1"}) is None
    assert refusal("0.0.0.0", environ={"ALLOW_DEMO_ON_NETWORK": "yes"}) is not None


def test_it_leaves_a_production_database_alone():
    assert refusal("0.0.0.0", environ={"DATABASE_URL": "postgres://db/tongxin"}) is None


def test_it_stops_make_run_before_anything_starts():
    """As the Makefile runs it: exit status 2 and the reason on stderr."""
    refused = subprocess.run(
        [sys.executable, "-m", "config.bind_guard", "0.0.0.0"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    allowed = subprocess.run(
        [sys.executable, "-m", "config.bind_guard", "127.0.0.1"], capture_output=True, env={}
    )

    assert refused.returncode == 2
    assert "Refusing to serve the embedded demo on 0.0.0.0" in refused.stderr
    assert allowed.returncode == 0
