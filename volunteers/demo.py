"""The demo city: Xinzheng's associations, volunteers, vehicles and testing sites
(DESIGN.md §1), generated from a fixed seed so every demo looks the same.

The builders (`demo_teams`, `demo_volunteers`, `demo_vehicles`, `demo_testing_sites`)
are plain functions from a random generator to plain rows; `demo_seed` writes those
rows in one transaction with bulk statements, so the full city (32,683 volunteers)
takes seconds, not minutes.
"""

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from dispatch.availability import index_rebuild
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from volunteers.models import Skill, Team, Township, TravelMode, Vehicle, VehicleKind, Volunteer
from volunteers.reference import TOWNSHIPS, reference_data_load
from volunteers.roles import Role
from volunteers.roster import BATCH_SIZE, NewVolunteer, volunteers_create_in_bulk

# 20 July 2021, the day of the Zhengzhou flood: any fixed number would do.
SEED = 20210720
DEMO_PASSWORD = "tongxin-demo"

CITY_ASSOCIATION = "新郑市新联会"
RESCUE_TEAM = "蓝天救援队"
RESCUE_TEAM_BASE = "新华路街道"
CITY_SEAT = (34.40, 113.74)
# The demo volunteer login's number: China Mobile's well-known sample number, kept out
# of the generated ones.
DEMO_VOLUNTEER_PHONE = "13800138000"
DEMO_VOLUNTEER_NAME = "郑同心"

# The city keeps its own clock whatever the server's TIME_ZONE: shifts start at
# 06:00 in Xinzheng.
CITY_TIME_ZONE = ZoneInfo("Asia/Shanghai")

KM_PER_DEGREE_LATITUDE = 111.32


@dataclass(frozen=True)
class DemoSize:
    volunteers: int
    vehicles: dict[str, int]


SMALL = DemoSize(
    volunteers=300,
    vehicles={
        VehicleKind.TRUCK: 12,
        VehicleKind.VAN: 8,
        VehicleKind.CAR: 8,
        VehicleKind.AMBULANCE: 2,
        VehicleKind.BUS: 2,
        VehicleKind.BOAT: 6,
    },
)
# The real scale: 32,683 registered members; the July 2021 floods took 160+ vehicle
# dispatches and the rescue team's 6 assault boats.
FULL = DemoSize(
    volunteers=32_683,
    vehicles={
        VehicleKind.TRUCK: 60,
        VehicleKind.VAN: 40,
        VehicleKind.CAR: 40,
        VehicleKind.AMBULANCE: 8,
        VehicleKind.BUS: 6,
        VehicleKind.BOAT: 6,
    },
)


class DemoAlreadySeeded(Exception):
    pass


# --- the city ---------------------------------------------------------------------------

SEATS = {name: (latitude, longitude) for name, _, _, latitude, longitude in TOWNSHIPS}
TOWNSHIP_NAMES = list(SEATS)

# Relative number of registered members: the central subdistricts and 龙湖, the big
# town on Zhengzhou's edge, have the most people; the rural townships the fewest.
TOWNSHIP_WEIGHTS = {
    "新建路街道": 1.6,
    "新华路街道": 1.6,
    "新烟街道": 1.3,
    "龙湖镇": 1.5,
    "新村镇": 1.1,
    "城关乡": 0.7,
    "大马乡": 0.6,
    "岗李乡": 0.6,
}

TRADE_BRANCHES = [
    "餐饮行业分会",
    "物流行业分会",
    "医疗卫生分会",
    "教育培训分会",
    "建筑行业分会",
    "房地产分会",
    "金融保险分会",
    "律师分会",
    "会计审计分会",
    "电子商务分会",
    "文化传媒分会",
    "红枣产业分会",
    "汽车服务分会",
    "商贸流通分会",
    "酒店住宿分会",
    "食品加工分会",
    "纺织服装分会",
    "机械制造分会",
    "电子信息分会",
    "新能源分会",
    "环保产业分会",
    "农业种植分会",
    "畜牧养殖分会",
    "包装印刷分会",
    "家居建材分会",
    "装饰装修分会",
    "美容美发分会",
    "健身体育分会",
    "旅游服务分会",
    "家政服务分会",
    "养老服务分会",
    "药品零售分会",
    "超市零售分会",
    "通信服务分会",
    "软件开发分会",
    "广告设计分会",
    "摄影摄像分会",
    "非遗传承分会",
    "民营医院分会",
    "中医药分会",
    "幼儿教育分会",
    "职业培训分会",
    "快递配送分会",
    "网约车分会",
    "出租车行业分会",
    "客运行业分会",
    "冷链运输分会",
    "粮油加工分会",
    "茶叶茶饮分会",
    "花卉苗木分会",
    "航空港服务分会",
    "物业管理分会",
    "安保服务分会",
]

SURNAMES = (
    # Henan's commonest surnames first, repeated by rough frequency.
    "王王王王李李李李张张张张刘刘刘陈陈杨杨赵赵郭郭高高郑郑周孙马朱胡宋吕徐冯何韩许"
    "田曹付黄袁贾程范任崔苏谢魏常史董杜梁秦丁孟薛白邢牛乔娄申候闫岳汪邓彭"
)
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国志文博振海峰亮东"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英玲桂兰红梅琳婷雪慧颖倩佳欣悦晶洁萍燕莉丹"

MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
]

# Share of ordinary members registering each skill.
SKILL_FREQUENCIES = {
    "logistics": 0.30,
    "order_keeping": 0.25,
    "driver": 0.22,
    "first_aid": 0.18,
    "registration": 0.15,
    "sampling": 0.10,
    "medical": 0.05,
    "rescue": 0.04,
    "psych_support": 0.03,
    "translation": 0.02,
    "water_rescue": 0.015,
    "boat_operator": 0.006,
}
RESCUE_TEAM_SKILL_FREQUENCIES = {
    "rescue": 0.90,
    "first_aid": 0.70,
    "water_rescue": 0.60,
    "driver": 0.40,
    "boat_operator": 0.30,
    "logistics": 0.20,
}
# Two crew for each of the six boats, even in the small demo city.
GUARANTEED_BOAT_OPERATORS = 12


# --- teams ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamSpec:
    name: str
    kind: str
    township: str | None


def township_association(township: str) -> str:
    return f"{township}新联会"


def demo_teams() -> list[TeamSpec]:
    """16 associations (the city's and one per township), 53 trade branches spread
    over the townships, and the rescue team."""
    teams = [TeamSpec(CITY_ASSOCIATION, Team.Kind.ASSOCIATION, None)]
    teams += [
        TeamSpec(township_association(name), Team.Kind.ASSOCIATION, name) for name in TOWNSHIP_NAMES
    ]
    teams += [
        TeamSpec(name, Team.Kind.BRANCH, TOWNSHIP_NAMES[index % len(TOWNSHIP_NAMES)])
        for index, name in enumerate(TRADE_BRANCHES)
    ]
    teams.append(TeamSpec(RESCUE_TEAM, Team.Kind.RESCUE, RESCUE_TEAM_BASE))
    return teams


# --- volunteers -------------------------------------------------------------------------


@dataclass(frozen=True)
class VolunteerSpec:
    name: str
    phone: str
    township: str
    teams: tuple[str, ...]
    skills: tuple[str, ...]
    home: tuple[float, float]
    travel_mode: str
    travel_range_km: float
    on_duty: bool
    last_location: tuple[float, float] | None = None
    last_seen_minutes_ago: float | None = None


def demo_volunteers(*, rng: random.Random, count: int) -> list[VolunteerSpec]:
    """`count` members: the rescue team's (about 0.6% of the city, at least 30) first,
    then everyone else."""
    rescue_team_size = min(count, max(30, round(count * 0.006)))
    phones = demo_phone_numbers(rng=rng, count=count, exclude={DEMO_VOLUNTEER_PHONE})
    branches_by_township = _branches_by_township()
    townships = rng.choices(
        TOWNSHIP_NAMES,
        weights=[TOWNSHIP_WEIGHTS.get(name, 1.0) for name in TOWNSHIP_NAMES],
        k=count,
    )
    volunteers = []
    for index, (phone, township) in enumerate(zip(phones, townships, strict=True)):
        in_rescue_team = index < rescue_team_size
        if in_rescue_team:
            teams = _rescue_member_teams(rng, township)
            skills = _skills_draw(rng, RESCUE_TEAM_SKILL_FREQUENCIES)
            if index < GUARANTEED_BOAT_OPERATORS and "boat_operator" not in skills:
                skills += ("boat_operator",)
        else:
            teams = _member_teams(rng, township, branches_by_township)
            skills = _skills_draw(rng, SKILL_FREQUENCIES)
        volunteers.append(
            _volunteer_spec(
                rng,
                phone=phone,
                township=township,
                teams=teams,
                skills=skills,
                on_duty_share=0.5 if in_rescue_team else 1 / 3,
                car_share=0.85 if in_rescue_team else 0.6,
            )
        )
    return volunteers


def _volunteer_spec(rng, *, phone, township, teams, skills, on_duty_share, car_share):
    home = point_near(rng, SEATS[township], mean_km=1.5, max_km=5)
    if rng.random() < car_share:
        travel_mode, travel_range_km = TravelMode.CAR.value, rng.randrange(16, 81) / 2
    else:
        travel_mode, travel_range_km = TravelMode.FOOT.value, rng.randrange(4, 13) / 2
    on_duty = rng.random() < on_duty_share
    return VolunteerSpec(
        name=chinese_name(rng),
        phone=phone,
        township=township,
        teams=teams,
        skills=skills,
        home=home,
        travel_mode=travel_mode,
        travel_range_km=travel_range_km,
        on_duty=on_duty,
        last_location=point_near(rng, home, mean_km=0.4, max_km=2) if on_duty else None,
        last_seen_minutes_ago=rng.uniform(0.5, 45) if on_duty else None,
    )


def _branches_by_township() -> dict[str, list[str]]:
    branches = {name: [] for name in TOWNSHIP_NAMES}
    for team in demo_teams():
        if team.kind == Team.Kind.BRANCH:
            branches[team.township].append(team.name)
    return branches


def _rescue_member_teams(rng, township: str) -> tuple[str, ...]:
    if rng.random() < 0.4:
        return (RESCUE_TEAM, township_association(township))
    return (RESCUE_TEAM,)


def _member_teams(rng, township: str, branches_by_township) -> tuple[str, ...]:
    """Most members join their township's association, some the city's, the rest a
    trade branch (usually one in their own township); some belong to two."""
    draw = rng.random()
    if draw < 0.5:
        first = township_association(township)
    elif draw < 0.6:
        first = CITY_ASSOCIATION
    elif rng.random() < 0.7:
        first = rng.choice(branches_by_township[township])
    else:
        first = rng.choice(TRADE_BRANCHES)
    if rng.random() >= 0.3:
        return (first,)
    if first in TRADE_BRANCHES:
        return (first, township_association(township))
    second = rng.choice(branches_by_township[township])
    return (first, second)


def _skills_draw(rng, frequencies: dict[str, float]) -> tuple[str, ...]:
    skills = [code for code, share in frequencies.items() if rng.random() < share]
    # Medical staff did most of the swab sampling in August 2021.
    if "medical" in skills and "sampling" not in skills and rng.random() < 0.7:
        skills.append("sampling")
    if not skills:
        skills.append(rng.choice(("logistics", "order_keeping")))
    return tuple(skills)


def chinese_name(rng: random.Random) -> str:
    given = GIVEN_MALE if rng.random() < 0.5 else GIVEN_FEMALE
    length = 1 if rng.random() < 0.3 else 2
    return rng.choice(SURNAMES) + "".join(rng.choice(given) for _ in range(length))


def demo_phone_numbers(*, rng: random.Random, count: int, exclude: set[str]) -> list[str]:
    phones = {}  # a dict keeps generation order, so the seed alone decides the result
    while len(phones) < count:
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if phone not in exclude:
            phones[phone] = None
    return list(phones)


def point_near(
    rng: random.Random, origin: tuple[float, float], *, mean_km: float, max_km: float
) -> tuple[float, float]:
    """A point around `origin`, denser near it: distance exponential with the given
    mean, redrawn beyond max_km (capping would draw a ring on the map), in a uniformly
    random direction."""
    distance = rng.expovariate(1 / mean_km)
    while distance > max_km:
        distance = rng.expovariate(1 / mean_km)
    bearing = rng.uniform(0, 2 * math.pi)
    latitude, longitude = origin
    d_latitude = distance * math.cos(bearing) / KM_PER_DEGREE_LATITUDE
    d_longitude = (
        distance * math.sin(bearing) / (KM_PER_DEGREE_LATITUDE * math.cos(math.radians(latitude)))
    )
    return round(latitude + d_latitude, 6), round(longitude + d_longitude, 6)


# --- vehicles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VehicleKindSpec:
    call_sign: str  # a format with {n}
    capacity: int  # people carried besides the crew
    water_depths_m: tuple[str, ...]
    crew_skills: tuple[str, ...]  # one crew member per entry
    teams: tuple[str, ...]


VEHICLE_KIND_SPECS = {
    VehicleKind.BOAT: VehicleKindSpec(
        "BS-BOAT-{n:02d}", 8, ("3.00",), ("boat_operator", "boat_operator"), (RESCUE_TEAM,)
    ),
    VehicleKind.TRUCK: VehicleKindSpec(
        "豫A·救{n:02d}",
        16,
        ("0.80", "0.90", "1.00"),
        ("driver",),
        (RESCUE_TEAM, "物流行业分会", "建筑行业分会", "冷链运输分会"),
    ),
    VehicleKind.VAN: VehicleKindSpec(
        "豫A·援{n:02d}",
        7,
        ("0.35",),
        ("driver",),
        ("物流行业分会", "快递配送分会", "商贸流通分会", "餐饮行业分会"),
    ),
    VehicleKind.CAR: VehicleKindSpec(
        "豫A·志{n:02d}",
        4,
        ("0.30",),
        ("driver",),
        ("网约车分会", "出租车行业分会", CITY_ASSOCIATION),
    ),
    VehicleKind.AMBULANCE: VehicleKindSpec(
        "豫A·急{n:02d}", 2, ("0.40",), ("driver", "medical"), ("医疗卫生分会", "民营医院分会")
    ),
    VehicleKind.BUS: VehicleKindSpec(
        "豫A·运{n:02d}", 45, ("0.50",), ("driver",), ("客运行业分会",)
    ),
}


@dataclass(frozen=True)
class VehicleSpec:
    call_sign: str
    kind: str
    team: str
    township: str
    capacity: int
    max_water_depth_m: Decimal
    crew: tuple[str, ...]  # phones
    location: tuple[float, float]


def demo_vehicles(
    *, rng: random.Random, counts: dict[str, int], volunteers: Sequence[VolunteerSpec]
) -> list[VehicleSpec]:
    """Vehicles crewed by volunteers with the skill to drive them, each crew member on
    one vehicle only, parked near the township seat of its first crew member."""
    pools = _crew_pools(rng, volunteers)
    team_townships = {team.name: team.township for team in demo_teams()}
    township_of = {volunteer.phone: volunteer.township for volunteer in volunteers}
    taken: set[str] = set()
    vehicles = []
    for kind, count in counts.items():
        spec = VEHICLE_KIND_SPECS[kind]
        for n in range(1, count + 1):
            crew = tuple(
                phone
                for skill in spec.crew_skills
                if (phone := _crew_member_take(pools[skill], taken)) is not None
            )
            team = RESCUE_TEAM if kind == VehicleKind.BOAT else rng.choice(spec.teams)
            if kind == VehicleKind.BOAT:
                township = RESCUE_TEAM_BASE  # boats wait at the rescue team's base
            elif crew:
                township = township_of[crew[0]]
            else:
                township = team_townships[team] or rng.choice(TOWNSHIP_NAMES)
            vehicles.append(
                VehicleSpec(
                    call_sign=spec.call_sign.format(n=n),
                    kind=kind,
                    team=team,
                    township=township,
                    capacity=spec.capacity,
                    max_water_depth_m=Decimal(rng.choice(spec.water_depths_m)),
                    crew=crew,
                    location=point_near(rng, SEATS[township], mean_km=1, max_km=3),
                )
            )
    return vehicles


def _crew_pools(rng, volunteers: Sequence[VolunteerSpec]) -> dict[str, list[str]]:
    """Phones by crew skill, in the order they are taken. Boat crews come from the
    rescue team first; an ambulance's second seat is medical or first-aid staff."""
    pools = {"driver": [], "boat_operator": [], "medical": []}
    for volunteer in volunteers:
        if "driver" in volunteer.skills:
            pools["driver"].append(volunteer.phone)
        if "boat_operator" in volunteer.skills:
            pools["boat_operator"].append(volunteer.phone)
        if {"medical", "first_aid"} & set(volunteer.skills):
            pools["medical"].append(volunteer.phone)
    rescue_team = {volunteer.phone for volunteer in volunteers if RESCUE_TEAM in volunteer.teams}
    rng.shuffle(pools["driver"])
    rng.shuffle(pools["medical"])
    rng.shuffle(pools["boat_operator"])
    pools["boat_operator"].sort(key=lambda phone: phone not in rescue_team)
    for pool in pools.values():
        pool.reverse()  # taken with pop(), from the end
    return pools


def _crew_member_take(pool: list[str], taken: set[str]) -> str | None:
    while pool:
        phone = pool.pop()
        if phone not in taken:
            taken.add(phone)
            return phone
    return None


# --- testing sites ----------------------------------------------------------------------


@dataclass(frozen=True)
class TestingSiteSpec:
    title: str
    address: str
    township: str
    location: tuple[float, float]
    people_affected: int
    shifts: tuple[tuple[datetime, datetime, int, str], ...]  # start, end, people, note


TESTING_SITE_PLACES = ["社区服务中心", "卫生院", "文化广场", "中心小学"]
# 23 sites, as in August 2021: three in each subdistrict, two in the big towns, one
# everywhere else.
TESTING_SITES_PER_TOWNSHIP = {
    "新建路街道": 3,
    "新华路街道": 3,
    "新烟街道": 3,
    "龙湖镇": 2,
    "新村镇": 2,
}
SHIFTS = [
    # start hour, length in hours, note
    (6, 8, "早班 morning shift"),
    (14, 8, "中班 afternoon shift"),
    (22, 8, "夜班 night shift"),
]


def demo_testing_sites(*, rng: random.Random, day: date) -> list[TestingSiteSpec]:
    """Testing sites staffed in three shifts on `day` (city time), each shift asking
    for 2-4 volunteers who can take swabs. Together they serve about 100,000 people."""
    sites = []
    for township in TOWNSHIP_NAMES:
        for place in TESTING_SITE_PLACES[: TESTING_SITES_PER_TOWNSHIP.get(township, 1)]:
            sites.append(
                TestingSiteSpec(
                    title=f"{township}{place}核酸采样点",
                    address=f"河南省新郑市{township}{place}",
                    township=township,
                    location=point_near(rng, SEATS[township], mean_km=1.2, max_km=3),
                    people_affected=rng.randrange(3000, 6001, 100),
                    shifts=tuple(
                        (*_shift_window(day, start_hour, hours), rng.randint(2, 4), note)
                        for start_hour, hours, note in SHIFTS
                    ),
                )
            )
    return sites


def _shift_window(day: date, start_hour: int, hours: int) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(start_hour), tzinfo=CITY_TIME_ZONE)
    return start, start + timedelta(hours=hours)


def city_tomorrow() -> date:
    return timezone.now().astimezone(CITY_TIME_ZONE).date() + timedelta(days=1)


# --- writing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    created: bool
    note: str = ""


DEMO_LOGINS = [
    # username, group (None: superuser), staff (may open the admin site), the person's
    # name (whole, in first_name: a Chinese name split in two would print back to front;
    # the ICS-214 and the log show it rather than the login)
    ("admin", None, True, ""),
    ("coordinator", Role.COORDINATOR, True, "陈静"),
    ("commander", Role.COMMANDER, True, "周建国"),
    ("volunteer", Role.VOLUNTEER, False, ""),
]


def demo_seed(*, size: DemoSize, progress: Callable[[int], None] | None = None) -> list[DemoLogin]:
    """Build the demo city in one transaction. Raises DemoAlreadySeeded, writing
    nothing, when the database already has volunteers."""
    rng = random.Random(SEED)
    with transaction.atomic():
        # The new volunteers, once committed; a failure (Redis down) is logged, not raised
        # after the commit: the periodic rebuild repairs the index.
        transaction.on_commit(index_rebuild, robust=True)
        # Inside the transaction: on SQLite (IMMEDIATE) it holds the write lock, so a
        # second seed started at the same moment waits and then finds the volunteers.
        # On PostgreSQL the second one fails on a unique constraint instead (the city
        # is the same every time), which the command takes as "already seeded".
        if Volunteer.objects.exists():
            raise DemoAlreadySeeded
        reference_ensure()
        _teams_write(demo_teams())
        logins = demo_logins_ensure()
        # The demo volunteer login is one of the city's members, made with the logins.
        volunteers = demo_volunteers(rng=rng, count=size.volunteers - 1)
        if progress:
            progress(1)
        _volunteers_write(volunteers, progress=progress)
        _vehicles_write(demo_vehicles(rng=rng, counts=size.vehicles, volunteers=volunteers))
        reporter = get_user_model().objects.get(username="coordinator")
        _testing_sites_write(demo_testing_sites(rng=rng, day=city_tomorrow()), reporter=reporter)
    return logins


def reference_ensure() -> None:
    """Townships, skills and role groups. Migration 0002 loads them; this puts back
    what `manage.py flush` took away."""
    reference_data_load(django_apps)


@transaction.atomic
def demo_logins_ensure() -> list[DemoLogin]:
    """Create the demo logins that are missing, with the demo password. Existing ones
    keep their password (someone may have changed it) but get their role back."""
    User = get_user_model()
    logins = []
    password_hash = None
    for username, role, staff, name in DEMO_LOGINS:
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            # One hash (~0.5 s) for all four: they share a published password anyway.
            password_hash = password_hash or make_password(DEMO_PASSWORD)
            user = User.objects.create(
                username=username,
                first_name=name,
                password=password_hash,
                is_staff=staff,
                is_superuser=role is None,
            )
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        note = ""
        if role == Role.VOLUNTEER:
            note = _demo_volunteer_ensure(user)
        logins.append(DemoLogin(username, role.value if role else "superuser", created, note))
    return logins


def _demo_volunteer_ensure(user) -> str:
    """The volunteer login's Volunteer: on duty at the city seat, rescue + first aid."""
    volunteer = Volunteer.objects.filter(user=user).first()
    if volunteer is None:
        if Volunteer.objects.filter(phone=DEMO_VOLUNTEER_PHONE).exists():
            return f"no volunteer record: phone {DEMO_VOLUNTEER_PHONE} belongs to someone else"
        latitude, longitude = CITY_SEAT
        volunteer = Volunteer.objects.create(
            user=user,
            name=DEMO_VOLUNTEER_NAME,
            phone=DEMO_VOLUNTEER_PHONE,
            township=Township.objects.get(name="新建路街道"),
            on_duty=True,
            travel_mode=TravelMode.CAR,
            travel_range_km=20,
            home_latitude=latitude,
            home_longitude=longitude,
            last_latitude=latitude,
            last_longitude=longitude,
            last_located_at=timezone.now(),
        )
        volunteer.skills.set(Skill.objects.filter(code__in=["rescue", "first_aid"]))
        volunteer.teams.set(
            Team.objects.filter(name__in=[RESCUE_TEAM, township_association("新建路街道")])
        )
    duty = "on duty" if volunteer.on_duty else "off duty"
    return f"{volunteer.name}, {duty} in {volunteer.township}"


def _teams_write(teams: Sequence[TeamSpec]) -> None:
    """Teams someone already made (the admin site, a roster) are kept as they are."""
    township_ids = dict(Township.objects.values_list("name", "id"))
    existing = set(Team.objects.values_list("name", flat=True))
    Team.objects.bulk_create(
        [
            Team(
                name=team.name,
                kind=team.kind,
                township_id=township_ids[team.township] if team.township else None,
            )
            for team in teams
            if team.name not in existing
        ]
    )


def _volunteers_write(volunteers: Sequence[VolunteerSpec], *, progress) -> None:
    township_ids = dict(Township.objects.values_list("name", "id"))
    team_ids = dict(Team.objects.values_list("name", "id"))
    skill_ids = dict(Skill.objects.values_list("code", "id"))
    now = timezone.now()
    new = []
    for spec in volunteers:
        last_latitude, last_longitude = spec.last_location or (None, None)
        volunteer = Volunteer(
            name=spec.name,
            phone=spec.phone,
            township_id=township_ids[spec.township],
            on_duty=spec.on_duty,
            travel_mode=spec.travel_mode,
            travel_range_km=spec.travel_range_km,
            home_latitude=spec.home[0],
            home_longitude=spec.home[1],
            last_latitude=last_latitude,
            last_longitude=last_longitude,
            last_located_at=(
                now - timedelta(minutes=spec.last_seen_minutes_ago)
                if spec.last_seen_minutes_ago is not None
                else None
            ),
        )
        new.append(
            NewVolunteer(
                volunteer=volunteer,
                team_ids=[team_ids[name] for name in spec.teams],
                skill_ids=[skill_ids[code] for code in spec.skills],
            )
        )
    volunteers_create_in_bulk(new=new, progress=progress)


def _vehicles_write(vehicles: Sequence[VehicleSpec]) -> None:
    """Vehicles already registered under a demo call sign are kept as they are."""
    existing = set(Vehicle.objects.values_list("call_sign", flat=True))
    vehicles = [spec for spec in vehicles if spec.call_sign not in existing]
    township_ids = dict(Township.objects.values_list("name", "id"))
    team_ids = dict(Team.objects.values_list("name", "id"))
    now = timezone.now()
    Vehicle.objects.bulk_create(
        [
            Vehicle(
                call_sign=spec.call_sign,
                kind=spec.kind,
                team_id=team_ids[spec.team],
                township_id=township_ids[spec.township],
                capacity=spec.capacity,
                max_water_depth_m=spec.max_water_depth_m,
                latitude=spec.location[0],
                longitude=spec.location[1],
                located_at=now,
            )
            for spec in vehicles
        ],
        batch_size=BATCH_SIZE,
    )
    vehicle_ids = dict(
        Vehicle.objects.filter(call_sign__in=[spec.call_sign for spec in vehicles]).values_list(
            "call_sign", "id"
        )
    )
    crew_phones = [phone for spec in vehicles for phone in spec.crew]
    volunteer_ids = dict(Volunteer.objects.filter(phone__in=crew_phones).values_list("phone", "id"))
    Crew = Vehicle.crew.through
    Crew.objects.bulk_create(
        [
            Crew(vehicle_id=vehicle_ids[spec.call_sign], volunteer_id=volunteer_ids[phone])
            for spec in vehicles
            for phone in spec.crew
        ],
        batch_size=BATCH_SIZE,
    )


def _testing_sites_write(sites: Sequence[TestingSiteSpec], *, reporter) -> None:
    townships = {township.name: township for township in Township.objects.all()}
    sampling = Skill.objects.get(code="sampling")
    for site in sites:
        incident_open(
            reporter=reporter,
            kind=Incident.Kind.TESTING_SITE,
            title=site.title,
            description="全员核酸检测采样点，三班轮换。Mass testing site, three shifts.",
            address=site.address,
            latitude=site.location[0],
            longitude=site.location[1],
            township=townships[site.township],
            people_affected=site.people_affected,
            needs=[
                NeedSpec(
                    kind=Need.Kind.PEOPLE,
                    skill=sampling,
                    count=count,
                    shift_start=start,
                    shift_end=end,
                    note=note,
                )
                for start, end, count, note in site.shifts
            ],
        )


def demo_counts() -> dict[str, int]:
    return {
        "volunteers": Volunteer.objects.count(),
        "teams": Team.objects.count(),
        "vehicles": Vehicle.objects.count(),
        "testing sites": Incident.objects.filter(kind=Incident.Kind.TESTING_SITE).count(),
    }
