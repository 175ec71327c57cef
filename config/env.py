"""Reading settings from the environment.

Every setting Tongxin takes from outside goes through these helpers, so the README's
configuration table and the code can be checked against each other in one place.
"""

import os
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def redis_url_with_db_offset(url: str, offset: int) -> str:
    """Return `url` pointing at the Redis database `offset` places after its own.

    One REDIS_URL serves three users that must not see each other's keys (channel
    layer, Celery broker, location index): each gets its own numbered database.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured(f"REDIS_URL={url!r}: expected a redis:// or rediss:// URL")
    base_db = parts.path.strip("/") or "0"
    if not base_db.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL={url!r}: the path must be a database number")
    return urlunsplit(parts._replace(path=f"/{int(base_db) + offset}"))
