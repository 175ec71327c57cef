import pytest

from dispatch.selectors import VOLUNTEER_COLUMNS, _volunteer_rows
from volunteers.models import Volunteer


@pytest.mark.django_db
def test_it_reads_the_same_volunteer_rows_as_the_orm(make_volunteer):
    on_duty = make_volunteer(
        "13600000001",
        skills=("rescue", "first_aid"),
        on_duty=True,
        last_latitude=34.61,
        last_longitude=113.68,
        home_latitude=34.6,
        home_longitude=113.7,
    )
    no_skills = make_volunteer("13600000002", skills=(), on_duty=True)
    off_duty = make_volunteer("13600000003", on_duty=False)
    ids = [on_duty.pk, no_skills.pk, off_duty.pk]

    rows = _volunteer_rows(ids)

    orm = Volunteer.objects.filter(pk__in=ids, on_duty=True).values_list(*VOLUNTEER_COLUMNS)
    assert sorted(rows, key=repr) == sorted(orm, key=repr)
    assert {row[0] for row in rows} == {on_duty.pk, no_skills.pk}
    assert sorted(row[-1] for row in rows if row[0] == on_duty.pk) == ["first_aid", "rescue"]
