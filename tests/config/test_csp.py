"""config/csp.py: the Content-Security-Policy on every answer, the CSRF cookie out of
scripts' reach, and no inline script in the project's own templates. (That the browser
refuses planted markup: tests/browser/test_hostile_text.py.)"""

import re
from pathlib import Path

import pytest

from config.csp import tile_server_source
from volunteers.roles import Role

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [path for path in ROOT.glob("*/templates") if path.parent.name != "node_modules"]


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/phone/login/", "/healthz"])
def test_every_answer_runs_only_the_sites_own_scripts(client, path):
    policy = directives(client.get(path))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_the_tool_pages_may_use_inline_styles_but_never_inline_script(client, make_user, path):
    client.force_login(make_user("coordinator", Role.COORDINATOR))
    policy = directives(client.get(path))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]


@pytest.mark.django_db
def test_the_api_docs_script_is_a_file_of_its_own(client, make_user):
    client.force_login(make_user("coordinator", Role.COORDINATOR))
    page = client.get("/api/docs/").content.decode()
    assert re.search(r'<script src="[^"]*\?script="', page)
    assert not re.search(r"<script>", page)


def test_the_tile_server_is_the_one_other_image_origin():
    assert tile_server_source("") == []
    assert tile_server_source("https://tiles.example.cn/{z}/{x}/{y}.png") == [
        "https://tiles.example.cn"
    ]
    assert tile_server_source("http://{s}.tiles.internal:8080/{z}/{x}/{y}.png") == [
        "http://*.tiles.internal:8080"
    ]


@pytest.mark.django_db
def test_the_csrf_token_is_in_the_page_not_in_a_cookie_scripts_can_read(client):
    response = client.get("/accounts/login/")
    cookie = response.cookies["csrftoken"]
    assert cookie["httponly"] is True
    token = re.search(r'<body[^>]* data-csrf="([^"]+)"', response.content.decode())
    assert token, "base.html writes the token for the pages' scripts"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)


@pytest.mark.parametrize(
    "template",
    [path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html")],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_no_template_of_ours_has_inline_script(template):
    """The policy would refuse it in the browser; this says which template, at once."""
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text)
    assert not INLINE_HANDLER.search(text)
