from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from tests.volunteers.workbooks import xlsx_bytes
from volunteers import roster
from volunteers.models import Team, TravelMode, Volunteer
from volunteers.roles import Role, user_has_role

HEADER = "name,phone,township,teams,skills,latitude,longitude"
ZHANG = "张伟,13800001111,新村镇,新村镇新联会;蓝天救援队,rescue;急救,34.455,113.645"
LI = "李娜,13900002222,新建路街道,餐饮行业分会,driver,34.397,113.739"


@pytest.fixture
def roster_file(tmp_path):
    def write(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> str:
        path = tmp_path / "roster.csv"
        path.write_bytes("\n".join([header, *lines, ""]).encode(encoding))
        return str(path)

    return write


def import_roster(path: str, *args: str) -> str:
    out = StringIO()
    call_command("import_roster", path, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def import_rejected(path: str, *args: str) -> tuple[str, str]:
    """The report and the error of an import that is refused."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_roster", path, *args, stdout=out, stderr=StringIO())
    return out.getvalue(), str(error.value)


@pytest.mark.django_db
def test_it_creates_volunteers_with_their_logins_teams_and_skills(roster_file):
    output = import_roster(roster_file(ZHANG, LI))

    assert "created 2, updated 0, unchanged 0, rejected 0" in output
    zhang = Volunteer.objects.get(phone="13800001111")
    assert zhang.name == "张伟"
    assert zhang.township.name == "新村镇"
    assert (zhang.home_latitude, zhang.home_longitude) == (34.455, 113.645)
    assert set(zhang.teams.values_list("name", flat=True)) == {"新村镇新联会", "蓝天救援队"}
    assert set(zhang.skills.values_list("code", flat=True)) == {"rescue", "first_aid"}
    assert zhang.user.username == "13800001111"
    assert not zhang.user.has_usable_password()
    assert user_has_role(zhang.user, Role.VOLUNTEER)


@pytest.mark.django_db
def test_it_uses_model_defaults_for_optional_columns_left_out(roster_file):
    import_roster(roster_file(LI))

    li = Volunteer.objects.get(phone="13900002222")
    assert (li.travel_mode, li.travel_range_km, li.on_duty) == (TravelMode.CAR, 15, False)


@pytest.mark.django_db
def test_it_reads_the_optional_columns_and_defaults_the_blank_ones(roster_file):
    header = HEADER + ",travel_range_km,travel_mode,on_duty"
    import_roster(roster_file(LI + ",3.5,foot,yes", ZHANG + ",,,", header=header))

    li = Volunteer.objects.get(phone="13900002222")
    assert (li.travel_mode, li.travel_range_km, li.on_duty) == ("foot", 3.5, True)
    zhang = Volunteer.objects.get(phone="13800001111")
    assert (zhang.travel_mode, zhang.travel_range_km, zhang.on_duty) == ("car", 15, False)


@pytest.mark.django_db
def test_it_accepts_a_volunteer_without_home_teams_or_skills(roster_file):
    import_roster(roster_file("王芳,13700003333,新烟街道,,,,"))

    wang = Volunteer.objects.get(phone="13700003333")
    assert wang.home_latitude is None and wang.home_longitude is None
    assert not wang.teams.exists() and not wang.skills.exists()


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("138 0000 1111", "13800001111"),
        ("138-0000-1111", "13800001111"),
        ("+86 138 0000 1111", "13800001111"),
        ("+8613800001111", "13800001111"),
    ],
)
@pytest.mark.django_db
def test_it_stores_phone_numbers_as_digits_only(roster_file, written, stored):
    import_roster(roster_file(ZHANG.replace("13800001111", written)))

    assert Volunteer.objects.get().phone == stored
    assert User.objects.filter(username=stored).exists()


@pytest.mark.django_db
def test_it_finds_townships_by_english_name(roster_file):
    import_roster(roster_file(ZHANG.replace("新村镇,", "xincun town,")))

    assert Volunteer.objects.get().township.name == "新村镇"


@pytest.mark.django_db
def test_it_creates_unknown_teams_as_branches_and_names_them(roster_file):
    Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)

    output = import_roster(roster_file(ZHANG))

    assert "new teams, created as trade branches: 新村镇新联会" in output
    assert Team.objects.get(name="新村镇新联会").kind == Team.Kind.BRANCH
    assert Team.objects.get(name="蓝天救援队").kind == Team.Kind.RESCUE


@pytest.mark.django_db
def test_it_reads_a_file_saved_with_a_byte_order_mark(roster_file):
    path = roster_file(ZHANG, encoding="utf-8-sig")

    output = import_roster(path)

    assert "created 1" in output
    assert Volunteer.objects.get().name == "张伟"


@pytest.mark.django_db
def test_it_refuses_a_file_that_is_not_utf8(roster_file):
    _, error = import_rejected(roster_file(ZHANG, encoding="gbk"))

    assert "not UTF-8" in error
    assert not Volunteer.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_file_missing_a_column(roster_file):
    _, error = import_rejected(
        roster_file("张伟,新村镇,,,,", header="name,township,teams,skills,latitude,longitude")
    )

    assert "missing column(s) phone" in error


@pytest.mark.parametrize(
    ("row", "report"),
    [
        (
            ZHANG.replace("13800001111", "12345"),
            'phone "12345": not an 11-digit mobile number',
        ),
        (ZHANG.replace("13800001111", ""), 'phone "": missing'),
        (ZHANG.replace("张伟", ""), 'name "": missing'),
        (
            ZHANG.replace("新村镇,", "新城镇,"),
            'township "新城镇": not one of the city\'s townships',
        ),
        (
            ZHANG.replace("rescue;急救", "rescue;juggling"),
            'skills "rescue;juggling": unknown skill(s) juggling',
        ),
        (ZHANG.replace("34.455", "134.455"), 'latitude "134.455": out of range [-90, 90]'),
        (ZHANG.replace("113.645", "east"), 'longitude "east": not a number'),
        (ZHANG.replace(",113.645", ","), 'longitude "": missing while latitude is given'),
    ],
)
@pytest.mark.django_db
def test_it_reports_each_rejected_value_with_line_column_and_reason(roster_file, row, report):
    output, error = import_rejected(roster_file(LI, row))

    assert f"line 3: {report}" in output
    assert "1 of 2 rows rejected; nothing imported" in error


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("travel_range_km", "0", "not between 0.1 and 500 km"),
        ("travel_mode", "bicycle", "not one of foot, car, boat"),
        ("on_duty", "maybe", "not one of 1, 0, yes, no"),
    ],
)
@pytest.mark.django_db
def test_it_reports_rejected_optional_values(roster_file, column, value, reason):
    output, _ = import_rejected(roster_file(f"{ZHANG},{value}", header=f"{HEADER},{column}"))

    assert f'line 2: {column} "{value}": {reason}' in output


@pytest.mark.django_db
def test_it_reports_every_problem_of_a_row(roster_file):
    output, _ = import_rejected(roster_file("李四,12345,Nowhere,,bogus,91,"))

    assert output.splitlines() == [
        'line 2: phone "12345": not an 11-digit mobile number',
        'line 2: township "Nowhere": not one of the city\'s townships',
        'line 2: skills "bogus": unknown skill(s) bogus (use the codes or Chinese names of '
        "volunteers/reference.py, e.g. first_aid or 急救)",
        'line 2: latitude "91": out of range [-90, 90]',
        'line 2: longitude "": missing while latitude is given (give both or neither)',
    ]


@pytest.mark.django_db
def test_it_rejects_every_row_sharing_a_phone(roster_file):
    output, error = import_rejected(
        roster_file(
            ZHANG, LI, ZHANG.replace("张伟", "张薇").replace("13800001111", "138-0000-1111")
        )
    )

    assert 'line 2: phone "13800001111": the same phone is also on line 4' in output
    assert 'line 4: phone "138-0000-1111": the same phone is also on line 2' in output
    assert "2 of 3 rows rejected" in error


@pytest.mark.django_db
def test_it_counts_lines_from_the_header_and_skips_blank_rows(roster_file):
    output, error = import_rejected(
        roster_file(ZHANG, ",,,,,,", "", LI.replace("13900002222", "1"))
    )

    assert 'line 5: phone "1": not an 11-digit mobile number' in output
    assert "1 of 2 rows rejected" in error


@pytest.mark.django_db
def test_it_imports_nothing_when_any_row_is_rejected(roster_file):
    import_rejected(roster_file(ZHANG, LI, LI.replace("13900002222", "12345")))

    assert not Volunteer.objects.exists()
    assert not User.objects.exists()
    assert not Team.objects.exists()


@pytest.mark.django_db
def test_it_imports_the_valid_rows_with_skip_invalid(roster_file):
    output = import_roster(
        roster_file(ZHANG, LI.replace("13900002222", "12345"), LI), "--skip-invalid"
    )

    assert 'line 3: phone "12345": not an 11-digit mobile number' in output
    assert "created 2, updated 0, unchanged 0, rejected 1" in output
    assert set(Volunteer.objects.values_list("phone", flat=True)) == {"13800001111", "13900002222"}


@pytest.mark.django_db
def test_it_changes_nothing_when_the_same_file_is_imported_again(roster_file):
    path = roster_file(ZHANG, LI)
    import_roster(path)
    before = list(Volunteer.objects.values())

    output = import_roster(path)

    assert "created 0, updated 0, unchanged 2, rejected 0" in output
    assert list(Volunteer.objects.values()) == before
    assert User.objects.count() == 2


@pytest.mark.django_db
def test_it_updates_the_volunteer_whose_row_changed(roster_file):
    header = HEADER + ",travel_mode"
    import_roster(roster_file(ZHANG + ",foot", LI + ",car", header=header))
    zhang = Volunteer.objects.get(phone="13800001111")

    changed = "张伟,13800001111,和庄镇,物流行业分会,driver;logistics,34.452,113.806"
    output = import_roster(roster_file(changed + ",", LI + ",car", header=header))

    assert "created 0, updated 1, unchanged 1, rejected 0" in output
    zhang.refresh_from_db()
    assert zhang.township.name == "和庄镇"
    assert (zhang.home_latitude, zhang.home_longitude) == (34.452, 113.806)
    assert list(zhang.teams.values_list("name", flat=True)) == ["物流行业分会"]
    assert set(zhang.skills.values_list("code", flat=True)) == {"driver", "logistics"}
    # A blank optional cell keeps what the volunteer had.
    assert zhang.travel_mode == "foot"
    assert Volunteer.objects.count() == 2


@pytest.mark.django_db
def test_it_counts_a_change_of_teams_alone_as_an_update(roster_file):
    import_roster(roster_file(ZHANG))

    output = import_roster(roster_file(ZHANG.replace("新村镇新联会;", "")))

    assert "created 0, updated 1, unchanged 0" in output
    volunteer = Volunteer.objects.get()
    assert list(volunteer.teams.values_list("name", flat=True)) == ["蓝天救援队"]


@pytest.mark.django_db
def test_it_leaves_volunteers_missing_from_the_file_alone(roster_file):
    import_roster(roster_file(ZHANG, LI))

    import_roster(roster_file(LI))

    assert Volunteer.objects.filter(phone="13800001111").exists()


@pytest.mark.django_db
def test_it_makes_an_existing_login_named_by_the_phone_the_volunteers_login(roster_file):
    coordinator = User.objects.create_user("13800001111", password="coordinator-pass")

    import_roster(roster_file(ZHANG))

    volunteer = Volunteer.objects.get()
    assert volunteer.user == coordinator
    assert volunteer.user.check_password("coordinator-pass")
    assert user_has_role(volunteer.user, Role.VOLUNTEER)


@pytest.mark.django_db
def test_it_refuses_a_phone_that_already_signs_in_another_volunteer(roster_file):
    import_roster(roster_file(ZHANG))
    Volunteer.objects.update(phone="13811112222")  # changed by hand since

    _, error = import_rejected(roster_file(ZHANG, LI))

    assert "13800001111 already sign in another volunteer" in error
    assert Volunteer.objects.count() == 1


@pytest.mark.django_db
def test_it_rolls_everything_back_when_the_database_fails_midway(roster_file, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("connection lost")

    # Teams and logins are written by then; the volunteers' skills are not.
    monkeypatch.setattr(roster, "pairs_insert", fail)

    with pytest.raises(RuntimeError):
        import_roster(roster_file(ZHANG, LI))

    assert not Team.objects.exists()
    assert not User.objects.exists()
    assert not Volunteer.objects.exists()


@pytest.mark.django_db
def test_it_skips_all_rows_sharing_a_phone_with_skip_invalid(roster_file):
    twin = ZHANG.replace("张伟", "张薇")

    output = import_roster(roster_file(ZHANG, twin, LI), "--skip-invalid")

    assert "created 1, updated 0, unchanged 0, rejected 2" in output
    assert list(Volunteer.objects.values_list("phone", flat=True)) == ["13900002222"]


# --- XLSX workbooks (issue 11) ----------------------------------------------------------

COLUMNS = HEADER.split(",")


def xlsx_row(csv_row: str) -> list:
    return [cell or None for cell in csv_row.split(",")]


@pytest.fixture
def roster_xlsx(tmp_path):
    def write(*rows, **sheets) -> str:
        path = tmp_path / "名册.xlsx"
        path.write_bytes(xlsx_bytes(*rows, sheets=sheets or None))
        return str(path)

    return write


@pytest.mark.django_db
def test_it_imports_a_workbook(roster_xlsx):
    output = import_roster(roster_xlsx(COLUMNS, xlsx_row(ZHANG), xlsx_row(LI)))

    assert "created 2, updated 0, unchanged 0, rejected 0" in output
    zhang = Volunteer.objects.get(phone="13800001111")
    assert zhang.township.name == "新村镇"
    assert set(zhang.skills.values_list("code", flat=True)) == {"rescue", "first_aid"}


@pytest.mark.django_db
def test_it_refuses_a_workbook_with_a_bad_row_naming_the_row_as_the_sheet_shows_it(
    roster_xlsx,
):
    bad = xlsx_row(LI.replace("新建路街道", "新城镇"))

    output, error = import_rejected(
        roster_xlsx(["新村镇新联会 会员名册"], COLUMNS, xlsx_row(ZHANG), [], bad)
    )

    assert output.splitlines() == ['row 5: township "新城镇": not one of the city\'s townships']
    assert "1 of 2 rows rejected; nothing imported" in error
    assert not Volunteer.objects.exists()
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    "typed",
    [13800001111, 13800001111.0, 1.3800001111e10, "13800001111", "138 0000 1111"],
    ids=["int", "float", "exponent", "text", "spaced-text"],
)
@pytest.mark.django_db
def test_it_reads_phones_typed_as_numbers(roster_xlsx, typed):
    row = ["张伟", typed, "新村镇", None, "rescue", 34.455, 113.645]

    import_roster(roster_xlsx(COLUMNS, row))

    volunteer = Volunteer.objects.get()
    assert volunteer.phone == "13800001111"
    assert (volunteer.home_latitude, volunteer.home_longitude) == (34.455, 113.645)


@pytest.mark.django_db
def test_it_reads_yes_no_and_numbers_from_typed_cells(roster_xlsx):
    header = [*COLUMNS, "travel_range_km", "on_duty"]
    row = [*xlsx_row(ZHANG), 20, True]

    import_roster(roster_xlsx(header, row))

    volunteer = Volunteer.objects.get()
    assert (volunteer.travel_range_km, volunteer.on_duty) == (20, True)


@pytest.mark.django_db
def test_it_ignores_blank_rows_and_trailing_ones(roster_xlsx):
    output = import_roster(
        roster_xlsx(COLUMNS, xlsx_row(ZHANG), [None] * 7, xlsx_row(LI), [], [None, ""], [])
    )

    assert "created 2, updated 0, unchanged 0, rejected 0" in output


@pytest.mark.django_db
def test_it_reads_the_named_sheet(roster_xlsx):
    path = roster_xlsx(["not the roster"], 第二页=[COLUMNS, xlsx_row(LI)])

    output = import_roster(path, "--sheet", "第二页")

    assert "created 1" in output
    _, error = import_rejected(path, "--sheet", "第三页")
    assert "no sheet named '第三页'" in error


@pytest.mark.django_db
def test_it_refuses_a_workbook_missing_a_column(roster_xlsx):
    _, error = import_rejected(roster_xlsx(["name", "township"], ["张伟", "新村镇"]))

    assert "row 1: missing column(s) phone, teams, skills, latitude, longitude" in error


@pytest.mark.parametrize(
    ("written", "report"),
    [
        ("13800001111.0", None),
        ("1.3800001111E+10", None),
        ("1.38E+10", "a rounded number"),
    ],
)
@pytest.mark.django_db
def test_it_reads_numbers_a_spreadsheet_saved_into_a_csv(roster_file, written, report):
    path = roster_file(ZHANG.replace("13800001111", written))
    if report is None:
        import_roster(path)
        assert Volunteer.objects.get().phone == "13800001111"
    else:
        output, _ = import_rejected(path)
        assert f'line 2: phone "{written}": {report}' in output


# --- dry runs ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_changes_nothing_in_a_dry_run_and_counts_what_would_change(roster_file):
    import_roster(roster_file(ZHANG))
    before = list(Volunteer.objects.values())

    output = import_roster(
        roster_file(ZHANG.replace("张伟", "张薇"), LI.replace("餐饮行业分会", "新队伍")),
        "--dry-run",
    )

    assert "dry run, nothing written: would have created 1, updated 1, unchanged 0" in output
    assert "new teams, created as trade branches: 新队伍" in output
    assert list(Volunteer.objects.values()) == before
    assert not Team.objects.filter(name="新队伍").exists()
    assert User.objects.count() == 1
