"""Where the briefings' tests happen: volunteers on and off duty in two townships."""

import pytest

# The SMS tests' gateway: a console outbox in a file, or an HTTP gateway in a thread.
from tests.dispatch.sms.conftest import gateway, outbox  # noqa: F401
from volunteers.models import Township

SITE = (34.610, 113.680)  # 龙湖镇, the north of the city
KM = 1 / 111  # a kilometre of latitude, near enough


@pytest.fixture
def longhu(db):
    return Township.objects.get(name="龙湖镇")


@pytest.fixture
def xincun(db):
    return Township.objects.get(name="新村镇")


@pytest.fixture
def people(make_volunteer, longhu, xincun):
    """In 龙湖镇: a boatman and a medic on duty, a rescuer off duty; in 新村镇: a rescuer
    on duty, 30 km south."""
    return {
        "boatman": make_volunteer(
            "13900000001",
            township=longhu,
            on_duty=True,
            skills=("boat_operator",),
            last_latitude=SITE[0] + KM,
            last_longitude=SITE[1],
        ),
        "medic": make_volunteer(
            "13900000002",
            township=longhu,
            on_duty=True,
            skills=("first_aid",),
            home_latitude=SITE[0] + 3 * KM,
            home_longitude=SITE[1],
        ),
        "resting": make_volunteer(
            "13900000003",
            township=longhu,
            on_duty=False,
            last_latitude=SITE[0],
            last_longitude=SITE[1],
        ),
        "elsewhere": make_volunteer(
            "13900000004",
            township=xincun,
            on_duty=True,
            last_latitude=SITE[0] - 30 * KM,
            last_longitude=SITE[1],
        ),
    }
