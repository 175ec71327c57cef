"""`make run` refuses to serve the embedded default beyond this machine.

The embedded default is seeded with demo accounts whose password is printed in the
README: on a network address anyone who can reach it could sign in as the
administrator. It binds to a loopback address unless
ALLOW_DEMO_ON_NETWORK=1 says, on purpose, that a demo on the network is wanted (a
classroom, a drill). Production runs docker-compose, with its own settings.

Usage: python -m config.bind_guard HOST  (exit 0: go on; exit 2: refused, says why)
"""

import ipaddress
import os
import sys

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere


def refusal(host: str, environ=os.environ) -> str | None:
    """Why serving the embedded default on `host` is refused, or None."""
    if environ.get("DATABASE_URL") or is_loopback(host):
        return None
    if environ.get("ALLOW_DEMO_ON_NETWORK") == "1":
        return None
    return (
        f"Refusing to serve the embedded demo on {host}: its demo logins' "
        "passwords are published, so anyone on the network could sign "
        "in as the administrator. Serve it on 127.0.0.1, or set ALLOW_DEMO_ON_NETWORK=1 "
        "if a demo on the network is really what you want (see README)."
    )


if __name__ == "__main__":
    reason = refusal(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1")
    if reason:
        print(reason, file=sys.stderr)
        sys.exit(2)
