import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dispatch.models import DeploymentEvent, EventKind
from volunteers.models import Skill, Team, Township, Vehicle, VehicleKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(township):
    return Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE, township=township)


@pytest.fixture
def vehicle(township, team, volunteer):
    vehicle = Vehicle.objects.create(
        call_sign="蓝天-01",
        kind=VehicleKind.BOAT,
        team=team,
        township=township,
        capacity=8,
        max_water_depth_m="2.50",
    )
    vehicle.crew.add(volunteer)
    return vehicle


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _act(client, action: str, *volunteers):
    return client.post(
        reverse("admin:volunteers_volunteer_changelist"),
        {"action": action, "_selected_action": [v.pk for v in volunteers]},
    )


@pytest.mark.parametrize("model", ["township", "skill", "team", "volunteer", "vehicle"])
def test_it_shows_each_changelist(admin_client, volunteer, vehicle, model):
    response = admin_client.get(reverse(f"admin:volunteers_{model}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ["township", "skill", "team", "volunteer", "vehicle"])
def test_it_shows_each_change_page(admin_client, volunteer, team, vehicle, model):
    obj = {
        "township": Township.objects.first(),
        "skill": Skill.objects.get(code="rescue"),
        "team": team,
        "volunteer": volunteer,
        "vehicle": vehicle,
    }[model]
    response = admin_client.get(reverse(f"admin:volunteers_{model}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_it_finds_volunteers_by_phone(admin_client, volunteer, make_volunteer):
    make_volunteer("13900000002", name="另一位")
    response = admin_client.get(
        reverse("admin:volunteers_volunteer_changelist"), {"q": "13800000001"}
    )
    assert list(response.context["cl"].result_list) == [volunteer]


def test_it_filters_volunteers_by_duty(admin_client, volunteer, make_volunteer):
    on_duty = make_volunteer("13900000002", on_duty=True)
    response = admin_client.get(
        reverse("admin:volunteers_volunteer_changelist"), {"on_duty__exact": "1"}
    )
    assert list(response.context["cl"].result_list) == [on_duty]


def test_it_lists_volunteers_in_a_fixed_number_of_queries(admin_client, make_volunteer):
    url = reverse("admin:volunteers_volunteer_changelist")
    make_volunteer("13900000001")
    with CaptureQueriesContext(connection) as one:
        admin_client.get(url)
    for n in range(2, 6):
        make_volunteer(f"1390000000{n}")
    with CaptureQueriesContext(connection) as five:
        admin_client.get(url)
    assert len(five) == len(one)


def test_it_does_not_offer_every_volunteer_as_crew(admin_client, vehicle, make_volunteer):
    make_volunteer("13900000002", name="不在车上")
    response = admin_client.get(reverse("admin:volunteers_vehicle_change", args=[vehicle.pk]))
    content = response.content.decode()
    # The autocomplete widget renders only the crew it holds; the rest come by search.
    assert "admin-autocomplete" in content
    assert "志愿者0001" in content
    assert "不在车上" not in content


def test_it_does_not_offer_every_user_on_the_volunteer_page(admin_client, volunteer, make_user):
    make_user("somebody-else")
    response = admin_client.get(reverse("admin:volunteers_volunteer_change", args=[volunteer.pk]))
    assert "somebody-else" not in response.content.decode()


def test_it_keeps_on_duty_out_of_the_form(admin_client, volunteer):
    response = admin_client.get(reverse("admin:volunteers_volunteer_change", args=[volunteer.pk]))
    assert "on_duty" not in response.context["adminform"].form.fields


def test_it_keeps_vehicle_status_out_of_the_form(admin_client, vehicle):
    response = admin_client.get(reverse("admin:volunteers_vehicle_change", args=[vehicle.pk]))
    assert "status" not in response.context["adminform"].form.fields


def test_it_puts_volunteers_on_duty_and_logs_it(admin_client, admin_user, volunteer):
    response = _act(admin_client, "put_on_duty", volunteer)

    assert response.status_code == 302
    volunteer.refresh_from_db()
    assert volunteer.on_duty
    event = DeploymentEvent.objects.get()
    assert event.kind == EventKind.VOLUNTEER_ON_DUTY
    assert event.volunteer == volunteer
    assert event.actor == admin_user
    assert _messages(response) == ["1 volunteer(s) now on duty."]


def test_it_takes_volunteers_off_duty_and_logs_it(admin_client, admin_user, make_volunteer):
    volunteer = make_volunteer("13900000001", on_duty=True)

    _act(admin_client, "take_off_duty", volunteer)

    volunteer.refresh_from_db()
    assert not volunteer.on_duty
    event = DeploymentEvent.objects.get()
    assert event.kind == EventKind.VOLUNTEER_OFF_DUTY
    assert event.actor == admin_user


def test_it_logs_nothing_for_volunteers_already_on_duty(admin_client, make_volunteer):
    volunteer = make_volunteer("13900000001", on_duty=True)

    response = _act(admin_client, "put_on_duty", volunteer)

    assert not DeploymentEvent.objects.exists()
    assert _messages(response) == ["1 volunteer(s) were already on duty."]


def _vehicle_action(client, action: str, *vehicles, **fields):
    # In English: with no preference the admin speaks the city's language (zh-hans).
    return client.post(
        reverse("admin:volunteers_vehicle_changelist"),
        {"action": action, "_selected_action": [v.pk for v in vehicles], **fields},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_it_asks_why_before_putting_a_vehicle_out_of_service(admin_client, vehicle):
    asked = _vehicle_action(admin_client, "put_out_of_service", vehicle)

    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()
    vehicle.refresh_from_db()
    assert vehicle.status == Vehicle.Status.AVAILABLE


def test_it_puts_a_vehicle_out_of_service_and_back_and_logs_why(admin_client, admin_user, vehicle):
    done = _vehicle_action(
        admin_client, "put_out_of_service", vehicle, apply="1", reason="发动机故障"
    )

    assert done.status_code == 302
    vehicle.refresh_from_db()
    assert vehicle.status == Vehicle.Status.OUT_OF_SERVICE
    assert _messages(done) == ["蓝天-01: out of service."]
    _vehicle_action(admin_client, "put_back_in_service", vehicle, apply="1", reason="修好了")
    vehicle.refresh_from_db()
    assert vehicle.status == Vehicle.Status.AVAILABLE
    logged = DeploymentEvent.objects.filter(kind=EventKind.VEHICLE_STATUS).order_by("seq")
    assert [(e.data["status"], e.data["reason"], e.actor) for e in logged] == [
        ("out_of_service", "发动机故障", admin_user),
        ("available", "修好了", admin_user),
    ]


def test_it_refuses_without_a_reason_and_says_why(admin_client, vehicle):
    refused = _vehicle_action(admin_client, "put_out_of_service", vehicle, apply="1", reason=" ")

    vehicle.refresh_from_db()
    assert vehicle.status == Vehicle.Status.AVAILABLE
    assert _messages(refused) == ["蓝天-01: Say why the vehicle is out of service."]
    assert not DeploymentEvent.objects.exists()
