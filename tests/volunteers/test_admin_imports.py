"""The admin's import pages (volunteers.admin_imports): upload, preview, confirm."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.volunteers.workbooks import xlsx_bytes
from volunteers import admin_imports
from volunteers.models import Vehicle, Volunteer
from volunteers.roles import Role

pytestmark = pytest.mark.django_db

ROSTER_HEADER = ["name", "phone", "township", "teams", "skills", "latitude", "longitude"]
ZHANG = ["张伟", 13800001111, "新村镇", "蓝天救援队", "rescue", 34.455, 113.645]
LI = ["李娜", 13900002222.0, "新建路街道", None, "driver", None, None]
VOLUNTEER_IMPORT = reverse("admin:volunteers_volunteer_import")
VEHICLE_IMPORT = reverse("admin:volunteers_vehicle_import")


@pytest.fixture(autouse=True)
def import_dir(tmp_path, monkeypatch):
    directory = tmp_path / "kept"
    monkeypatch.setattr(admin_imports, "IMPORT_DIR", directory)
    return directory


@pytest.fixture
def coordinator_client(client, make_user):
    client.force_login(make_user("coordinator", Role.COORDINATOR, is_staff=True))
    return client


def upload(client, url: str, data: bytes, name: str = "名册.xlsx", sheet: str = ""):
    return client.post(url, {"file": SimpleUploadedFile(name, data), "sheet": sheet})


def confirm(client, url: str, response):
    return client.post(url, {"token": response.context["token"]})


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_it_offers_coordinators_the_import_on_the_changelists(coordinator_client):
    for model in ("volunteer", "vehicle"):
        page = reverse(f"admin:volunteers_{model}_import")
        response = coordinator_client.get(reverse(f"admin:volunteers_{model}_changelist"))
        assert page in response.content.decode()
        assert coordinator_client.get(page).status_code == 200


def test_it_refuses_the_import_to_a_commander(client, make_user):
    client.force_login(make_user("commander", Role.COMMANDER, is_staff=True))

    changelist = client.get(reverse("admin:volunteers_volunteer_changelist"))
    assert VOLUNTEER_IMPORT not in changelist.content.decode()
    assert client.get(VOLUNTEER_IMPORT).status_code == 403
    assert upload(client, VOLUNTEER_IMPORT, xlsx_bytes(ROSTER_HEADER, ZHANG)).status_code == 403
    assert not Volunteer.objects.exists()


def test_it_previews_a_roster_then_imports_it_on_confirm(coordinator_client, import_dir):
    preview = upload(coordinator_client, VOLUNTEER_IMPORT, xlsx_bytes(ROSTER_HEADER, ZHANG, LI))

    assert preview.status_code == 200
    outcome = preview.context["outcome"]
    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.rejected) == (2, 0, 0, 0)
    assert 'id="import-confirm"' in preview.content.decode()
    assert not Volunteer.objects.exists()
    assert len(list(import_dir.iterdir())) == 1

    done = confirm(coordinator_client, VOLUNTEER_IMPORT, preview)

    assert done.status_code == 302
    assert done["Location"] == reverse("admin:volunteers_volunteer_changelist")
    assert "已导入 Imported: created 2, updated 0, unchanged 0." in _messages(done)[0]
    assert set(Volunteer.objects.values_list("phone", flat=True)) == {
        "13800001111",
        "13900002222",
    }
    assert list(import_dir.iterdir()) == []


def test_it_shows_the_rows_refused_and_offers_no_confirm(coordinator_client, import_dir):
    bad = [*ZHANG[:2], "新城镇", *ZHANG[3:]]

    response = upload(coordinator_client, VOLUNTEER_IMPORT, xlsx_bytes(ROSTER_HEADER, LI, bad))

    content = response.content.decode()
    assert "1 of 2 rows refused; nothing would be imported" in content
    assert "not one of the city&#x27;s townships" in content
    assert 'id="import-confirm"' not in content
    assert list(import_dir.iterdir()) == []
    assert not Volunteer.objects.exists()


def test_it_shows_a_file_it_cannot_read(coordinator_client):
    response = upload(coordinator_client, VOLUNTEER_IMPORT, "姓名\n".encode("gbk"), "x.csv")

    assert "not UTF-8" in response.content.decode()


def test_it_confirms_only_the_token_of_the_session(coordinator_client, client, make_user):
    preview = upload(coordinator_client, VOLUNTEER_IMPORT, xlsx_bytes(ROSTER_HEADER, ZHANG))

    forged = coordinator_client.post(VOLUNTEER_IMPORT, {"token": "not-the-token"})
    assert forged.status_code == 302
    assert "That upload is gone" in _messages(forged)[0]
    assert not Volunteer.objects.exists()

    # Another coordinator's session does not hold it either.
    client.force_login(make_user("other", Role.COORDINATOR, is_staff=True))
    assert confirm(client, VOLUNTEER_IMPORT, preview).status_code == 302
    assert not Volunteer.objects.exists()


def test_it_imports_a_confirmed_upload_once(coordinator_client):
    preview = upload(coordinator_client, VOLUNTEER_IMPORT, xlsx_bytes(ROSTER_HEADER, ZHANG))
    confirm(coordinator_client, VOLUNTEER_IMPORT, preview)

    again = confirm(coordinator_client, VOLUNTEER_IMPORT, preview)

    assert "That upload is gone" in _messages(again)[-1]
    assert Volunteer.objects.count() == 1


def test_it_previews_and_imports_a_fleet(coordinator_client, make_volunteer):
    make_volunteer("13800000001")
    sheet = xlsx_bytes(
        ["call_sign", "kind", "township", "capacity", "crew", "max_water_depth_m"],
        ["蓝天-舟01", "冲锋舟", "龙湖镇", 8, 13800000001, 1.5],
    )

    preview = upload(coordinator_client, VEHICLE_IMPORT, sheet, "车辆.xlsx")

    assert preview.context["outcome"].created == 1
    assert not Vehicle.objects.exists()
    done = confirm(coordinator_client, VEHICLE_IMPORT, preview)
    assert done["Location"] == reverse("admin:volunteers_vehicle_changelist")
    boat = Vehicle.objects.get()
    assert list(boat.crew.values_list("phone", flat=True)) == ["13800000001"]


def test_it_checks_the_file_again_on_confirm(coordinator_client, make_volunteer):
    crew_member = make_volunteer("13800000001")
    sheet = xlsx_bytes(
        ["call_sign", "kind", "township", "capacity", "crew"],
        ["蓝天-车01", "truck", "龙湖镇", 8, 13800000001],
    )
    preview = upload(coordinator_client, VEHICLE_IMPORT, sheet, "车辆.xlsx")
    crew_member.delete()  # left the association between preview and confirm

    refused = confirm(coordinator_client, VEHICLE_IMPORT, preview)

    assert refused.status_code == 200
    content = refused.content.decode()
    assert "1 of 1 rows refused; nothing was imported" in content
    assert "no volunteer has the phone 13800000001" in content
    assert not Vehicle.objects.exists()
