import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, redis_url_with_db_offset


def test_it_gives_each_redis_user_its_own_database():
    assert redis_url_with_db_offset("redis://cache:6379/4", 0) == "redis://cache:6379/4"
    assert redis_url_with_db_offset("redis://cache:6379/4", 2) == "redis://cache:6379/6"
    assert redis_url_with_db_offset("redis://:pw@cache:6379", 1) == "redis://:pw@cache:6379/1"


@pytest.mark.parametrize("url", ["http://cache:6379/0", "redis://cache:6379/zero"])
def test_it_refuses_a_redis_url_it_cannot_use(url):
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        redis_url_with_db_offset(url, 0)


def test_it_reads_booleans_and_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    assert env_bool("FLAG", default=False) is True
    monkeypatch.setenv("FLAG", "0")
    assert env_bool("FLAG", default=True) is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG='maybe'"):
        env_bool("FLAG", default=True)


def test_it_reads_numbers_and_lists(monkeypatch):
    monkeypatch.setenv("COUNT", "12")
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_int("COUNT", 1) == 12
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.setenv("COUNT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="COUNT"):
        env_int("COUNT", 1)
