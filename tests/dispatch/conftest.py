import pytest

from dispatch.availability import index_rebuild
from tests.dispatch.scenes import KM, SITE


@pytest.fixture
def rescuers(make_volunteer):
    """Five on-duty rescuers, 1 to 5 km north of the site, nearest first."""
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
