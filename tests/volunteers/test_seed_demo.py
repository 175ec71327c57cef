import random
from collections import Counter
from datetime import datetime, time, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.utils import timezone
from geopy.distance import geodesic

from incidents.models import Incident
from volunteers import demo
from volunteers.models import Team, Vehicle, VehicleKind, Volunteer
from volunteers.reference import TOWNSHIPS
from volunteers.roles import Role, user_has_role

SEATS = {name: (latitude, longitude) for name, _, _, latitude, longitude in TOWNSHIPS}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def signed_in(*, username: str, password: str):
    """Who a sign-in with these credentials gives, as the login page would ask (with
    a request: django-axes, which throttles sign-ins, needs one)."""
    return authenticate(
        RequestFactory().post("/accounts/login/"), username=username, password=password
    )


def seed_demo(*args: str) -> str:
    # Tests run with DEBUG off, as production does.
    out = StringIO()
    call_command("seed_demo", "--allow-demo-logins", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_it_refuses_to_create_demo_logins_on_a_production_database():
    with pytest.raises(CommandError, match="published password"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.exists()


@pytest.fixture
def seeded():
    """The small demo city; the test must be marked django_db."""
    return seed_demo()


@pytest.mark.django_db
def test_it_builds_the_citys_associations_branches_and_rescue_team(seeded):
    associations = Team.objects.filter(kind=Team.Kind.ASSOCIATION)
    assert associations.count() == 16
    assert associations.filter(name="新郑市新联会", township=None).exists()
    assert sorted(associations.exclude(township=None).values_list("township__name", flat=True)) == (
        sorted(SEATS)
    )
    branches = Team.objects.filter(kind=Team.Kind.BRANCH)
    assert branches.count() == 53
    assert not branches.filter(township=None).exists()
    assert branches.filter(name__in=["餐饮行业分会", "物流行业分会", "医疗卫生分会"]).count() == 3
    assert list(Team.objects.filter(kind=Team.Kind.RESCUE).values_list("name", flat=True)) == [
        "蓝天救援队"
    ]


@pytest.mark.django_db
def test_it_gives_each_volunteer_a_login_teams_skills_and_a_home_near_their_township(seeded):
    volunteers = Volunteer.objects.select_related("user", "township").prefetch_related(
        "teams", "skills", "user__groups"
    )
    assert len(volunteers) == demo.SMALL.volunteers
    for volunteer in volunteers:
        assert len(volunteer.phone) == 11 and volunteer.phone.startswith("1")
        assert 2 <= len(volunteer.name) <= 3
        assert 1 <= len(volunteer.teams.all()) <= 2
        assert volunteer.skills.all()
        assert user_has_role(volunteer.user, Role.VOLUNTEER)
        home = (volunteer.home_latitude, volunteer.home_longitude)
        assert geodesic(home, SEATS[volunteer.township.name]).km <= 5.1
        assert volunteer.travel_mode in ("foot", "car") and volunteer.travel_range_km > 0


@pytest.mark.django_db
def test_it_puts_about_a_third_on_duty_with_a_recent_location_near_home(seeded):
    on_duty = list(Volunteer.objects.filter(on_duty=True))
    assert 0.25 <= len(on_duty) / demo.SMALL.volunteers <= 0.45
    for volunteer in on_duty:
        home = (volunteer.home_latitude, volunteer.home_longitude)
        assert geodesic(home, (volunteer.last_latitude, volunteer.last_longitude)).km <= 2.1
        assert timezone.now() - volunteer.last_located_at < timedelta(hours=1)
    assert not Volunteer.objects.filter(on_duty=False, last_located_at__isnull=False).exists()


@pytest.mark.django_db
def test_it_gives_the_rescue_team_water_skills_more_often(seeded):
    def share_with_water_rescue(volunteers):
        return volunteers.filter(skills__code="water_rescue").count() / volunteers.count()

    rescue_team = Volunteer.objects.filter(teams__name="蓝天救援队")
    others = Volunteer.objects.exclude(teams__name="蓝天救援队")
    assert share_with_water_rescue(rescue_team) > 5 * share_with_water_rescue(others)


@pytest.mark.django_db
def test_it_creates_six_assault_boats_crewed_by_boat_operators(seeded):
    boats = Vehicle.objects.filter(kind=VehicleKind.BOAT)
    assert boats.count() == 6
    for boat in boats:
        assert boat.team.name == "蓝天救援队"
        assert boat.max_water_depth_m == Decimal("3.00")
        crew = boat.crew.all()
        assert len(crew) == 2
        assert all(member.skills.filter(code="boat_operator").exists() for member in crew)


@pytest.mark.django_db
def test_it_crews_road_vehicles_with_drivers_and_parks_them_near_a_township_seat(seeded):
    kinds = Counter(Vehicle.objects.values_list("kind", flat=True))
    assert kinds == {kind.value: count for kind, count in demo.SMALL.vehicles.items()}
    for vehicle in Vehicle.objects.exclude(kind=VehicleKind.BOAT):
        assert vehicle.crew.filter(skills__code="driver").exists(), vehicle.call_sign
        location = (vehicle.latitude, vehicle.longitude)
        assert geodesic(location, SEATS[vehicle.township.name]).km <= 3.1


@pytest.mark.django_db
def test_it_rates_vehicles_for_water_from_boats_down_to_cars(seeded):
    def deepest(kind):
        return max(Vehicle.objects.filter(kind=kind).values_list("max_water_depth_m", flat=True))

    assert deepest("boat") > deepest("truck") > deepest("bus") > deepest("car")


@pytest.mark.django_db
def test_it_opens_23_testing_sites_with_three_sampling_shifts_tomorrow(seeded):
    sites = Incident.objects.filter(kind=Incident.Kind.TESTING_SITE)
    assert sites.count() == 23
    assert set(sites.values_list("status", flat=True)) == {Incident.Status.OPEN}
    assert sites.values("township").distinct().count() == 15
    tomorrow = timezone.now().astimezone(SHANGHAI).date() + timedelta(days=1)

    def at(hour, day=tomorrow):
        return datetime.combine(day, time(hour), tzinfo=SHANGHAI)

    expected_windows = [
        (at(6), at(14)),
        (at(14), at(22)),
        (at(22), at(6, tomorrow + timedelta(days=1))),
    ]
    for site in sites:
        needs = list(site.needs.order_by("shift_start"))
        assert [(need.shift_start, need.shift_end) for need in needs] == expected_windows
        for need in needs:
            assert need.kind == "people" and need.skill.code == "sampling"
            assert 2 <= need.count <= 4


@pytest.mark.django_db
def test_it_creates_demo_logins_that_sign_in_with_the_demo_password(seeded):
    logins = {
        username: signed_in(username=username, password="tongxin-demo")
        for username in ("admin", "coordinator", "commander", "volunteer")
    }

    assert logins["admin"].is_superuser and logins["admin"].is_staff
    assert user_has_role(logins["coordinator"], Role.COORDINATOR)
    assert user_has_role(logins["commander"], Role.COMMANDER)
    assert user_has_role(logins["volunteer"], Role.VOLUNTEER)
    assert not any(logins[name].is_superuser for name in ("coordinator", "commander", "volunteer"))


@pytest.mark.django_db
def test_it_links_the_volunteer_login_to_an_on_duty_rescuer_at_the_city_seat(seeded):
    volunteer = User.objects.get(username="volunteer").volunteer

    assert volunteer.on_duty
    assert {"rescue", "first_aid"} <= set(volunteer.skills.values_list("code", flat=True))
    location = (volunteer.last_latitude, volunteer.last_longitude)
    assert geodesic(location, (34.40, 113.74)).km < 1


@pytest.mark.django_db
def test_it_prints_the_logins_the_warning_and_the_counts(seeded):
    assert 'password "tongxin-demo"' in seeded
    assert "WARNING: these are demo credentials" in seeded
    for username in ("admin", "coordinator", "commander", "volunteer"):
        assert f"  {username} " in seeded
    assert "volunteers 300, teams 70, vehicles 38, testing sites 23" in seeded


@pytest.mark.django_db
def test_it_seeds_nothing_the_second_time(seeded):
    volunteers = list(Volunteer.objects.values_list("id", flat=True))

    output = seed_demo()

    assert "300 volunteers already exist: seeding nothing" in output
    assert list(Volunteer.objects.values_list("id", flat=True)) == volunteers
    assert Incident.objects.count() == 23
    assert Vehicle.objects.count() == 38
    assert "volunteers 300, teams 70, vehicles 38, testing sites 23" in output


@pytest.mark.django_db
def test_it_puts_back_a_missing_demo_login_when_volunteers_exist(seeded):
    User.objects.filter(username="commander").delete()

    output = seed_demo()

    assert "already exist" in output
    assert user_has_role(signed_in(username="commander", password="tongxin-demo"), Role.COMMANDER)


@pytest.mark.django_db
def test_it_leaves_the_password_of_an_existing_demo_login_alone(seeded):
    coordinator = User.objects.get(username="coordinator")
    coordinator.set_password("changed-by-the-admin")
    coordinator.save()

    output = seed_demo()

    assert "existing login, its password left as it was" in output
    assert signed_in(username="coordinator", password="changed-by-the-admin")


@pytest.mark.django_db
def test_it_only_adds_the_demo_logins_to_a_city_imported_from_a_roster(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "name,phone,township,teams,skills,latitude,longitude\n"
        "张伟,13800001111,新村镇,,rescue,34.455,113.645\n",
        encoding="utf-8",
    )
    call_command("import_roster", str(roster), stdout=StringIO())

    output = seed_demo("--full")

    assert "1 volunteers already exist" in output
    assert not Vehicle.objects.exists() and not Incident.objects.exists()
    assert User.objects.get(username="volunteer").volunteer.name == demo.DEMO_VOLUNTEER_NAME
    assert signed_in(username="admin", password="tongxin-demo")


def test_it_builds_the_same_city_from_the_same_seed():
    def city():
        rng = random.Random(demo.SEED)
        volunteers = demo.demo_volunteers(rng=rng, count=200)
        vehicles = demo.demo_vehicles(rng=rng, counts=demo.SMALL.vehicles, volunteers=volunteers)
        return volunteers, vehicles

    assert city() == city()


def test_it_gives_the_full_city_160_crewed_vehicles_and_still_six_boats():
    rng = random.Random(demo.SEED)
    volunteers = demo.demo_volunteers(rng=rng, count=5000)

    vehicles = demo.demo_vehicles(rng=rng, counts=demo.FULL.vehicles, volunteers=volunteers)

    assert len(vehicles) == 160
    assert Counter(vehicle.kind for vehicle in vehicles)[VehicleKind.BOAT] == 6
    assert all(vehicle.crew for vehicle in vehicles)
    crew = [phone for vehicle in vehicles for phone in vehicle.crew]
    assert len(crew) == len(set(crew)), "nobody crews two vehicles"
