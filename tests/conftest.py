"""Fixtures shared by the whole suite, and the markers for tests on real services."""

import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from dispatch.availability import index_rebuild
from dispatch.location_index import location_index
from dispatch.models import EventSequence
from tests.backends import REQUIRE_SERVICES
from tests.dispatch.scenes import KM, SITE
from volunteers.models import Skill, Township, Volunteer
from volunteers.reference import reference_data_load
from volunteers.roles import Role

DEMO_PASSWORD = "correct-horse-battery"

# Tests sign many users in; the production hasher's cost is for attackers, not for us.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    # One test database per run: a developer's run and a helper's run at the same time
    # must not drop each other's database.
    if connection.vendor == "postgresql":
        name = f"test_{settings.DATABASES['default']['NAME']}_{os.getpid()}"
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, as pytest-django sets it up; at the end, before it is dropped,
    the connections threads of the tests left open (a consumer's thread pool) are ended:
    PostgreSQL refuses to drop a database in use, and each run left one behind."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests flush every table when they end, including the rows the
    migrations load (townships, skills, roles, the event sequence): put them back."""
    if "transactional_db" not in request.fixturenames and not _is_transactional(request):
        return
    request.getfixturevalue("transactional_db")
    reference_data_load(django_apps)
    EventSequence.objects.get_or_create(id=1)


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or marker.args[:1] == (True,)))


def _skip_or_fail(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"TONGXIN_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _real_service_markers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _skip_or_fail(f"needs PostgreSQL; this run uses {connection.vendor}")
    if request.node.get_closest_marker("redis") and settings.EMBEDDED:
        _skip_or_fail("needs Redis; this run has no REDIS_URL")


# --- people ---------------------------------------------------------------------------


@pytest.fixture
def make_user(db):
    def make(username: str, *roles: Role, **fields) -> User:
        user = User.objects.create_user(username, password=DEMO_PASSWORD, **fields)
        user.groups.add(*[Group.objects.get(name=role.value) for role in roles])
        return user

    return make


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", Role.COORDINATOR)


@pytest.fixture
def commander(make_user):
    return make_user("commander", Role.COMMANDER)


@pytest.fixture
def township(db):
    return Township.objects.get(name="新建路街道")


@pytest.fixture
def make_volunteer(make_user, township):
    def make(phone: str, *, skills=("rescue",), on_duty=False, **fields) -> Volunteer:
        user = make_user(phone, Role.VOLUNTEER)
        volunteer = Volunteer.objects.create(
            user=user,
            name=fields.pop("name", f"志愿者{phone[-4:]}"),
            phone=phone,
            township=fields.pop("township", township),
            on_duty=on_duty,
            **fields,
        )
        volunteer.skills.set(Skill.objects.filter(code__in=skills))
        return volunteer

    return make


@pytest.fixture
def volunteer(make_volunteer):
    return make_volunteer("13800000001")


@pytest.fixture
def channel_layer():
    """The configured channel layer (Redis when the run has it), to listen on groups."""
    layer = get_channel_layer()
    yield layer
    if hasattr(layer, "flush"):
        async_to_sync(layer.flush)()


@pytest.fixture(autouse=True)
def _a_channel_layer_per_test():
    """Each test gets channel-layer objects of its own. A test drives sockets on event
    loops that end with it; a Redis layer object keeps asyncio locks bound to the loop
    that first took them, and one left held by a consumer cancelled with its loop
    refuses the next test's loop ("bound to a different event loop")."""
    yield
    channel_layers.backends.clear()


@pytest.fixture
def live_index():
    """The location index this process uses (Redis when the run has it), empty. Its
    keys are this run's own (tests/backends.py sets LOCATION_INDEX_PREFIX)."""
    location_index.cache_clear()
    index = location_index()
    index.replace_all({})
    yield index
    index.replace_all({})
    location_index.cache_clear()


@pytest.fixture
def api():
    """An API client signed in as the given user (None: anonymous)."""

    def client_for(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture
def rescuers(make_volunteer):
    """Five on-duty rescuers, 1 to 5 km north of the site (tests.dispatch.scenes.SITE),
    nearest first, in the location index."""
    volunteers = [
        make_volunteer(
            f"1390000000{n}",
            skills=("rescue",),
            on_duty=True,
            last_latitude=SITE[0] + n * KM,
            last_longitude=SITE[1],
        )
        for n in range(1, 6)
    ]
    index_rebuild()
    return volunteers
