"""Static files with hashed names (config/storage.py, STATIC_HASHED): collected for real
into a folder of the test's own, as `make run` and the Docker image collect them."""

import re
from pathlib import PurePosixPath
from urllib.parse import urljoin

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

HASHED = {
    "STORAGES": {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.storage.HashedStaticFilesStorage"},
    },
    "WHITENOISE_USE_FINDERS": False,
}
# A name with Django's 12-hex-digit hash before its extension.
HASH = re.compile(r"\.[0-9a-f]{12}(?=\.[a-z]+$)")
# A static import or re-export: `import { h } from "../tongxin/dom.js";`, over lines too.
IMPORT = re.compile(r"""^(?:import|export)\b[^;"'=(]*?["']([^"']+)["']\s*;""", re.MULTILINE)
# What a page loads itself: its scripts, the modules it preloads, its styles and icons.
LOADED = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="(/static/[^"]+)\"""")


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root, **HASHED):
        call_command("collectstatic", "--noinput", verbosity=0)
    return root


@pytest.fixture
def hashed(static_root):
    with override_settings(STATIC_ROOT=static_root, **HASHED):
        yield static_root


def _unhashed(url: str) -> str:
    return HASH.sub("", url)


def _module_graph(root, urls: list[str]) -> dict[str, set[str]]:
    """Every module the page's scripts load, following their imports in the collected
    files: {name without hash: the URLs it is loaded from}."""
    seen: dict[str, set[str]] = {}
    todo = [url for url in urls if url.endswith(".js")]
    done = set()
    while todo:
        url = todo.pop()
        if url in done:
            continue
        done.add(url)
        seen.setdefault(_unhashed(url), set()).add(url)
        source = (root / url.removeprefix(settings.STATIC_URL)).read_text()
        todo += [urljoin(url, imported) for imported in IMPORT.findall(source)]
    return seen


def test_it_rewrites_every_module_import_to_the_hashed_name(static_root):
    mine = ["tongxin", "dashboard", "phone", "review"]
    modules = [
        path
        for folder in mine
        for path in (static_root / folder).glob("*.js")
        if HASH.search(path.name)
    ]
    imports = {
        str(PurePosixPath(path.relative_to(static_root))): IMPORT.findall(path.read_text())
        for path in modules
    }

    assert len(imports["phone/" + _hashed_name(static_root, "phone/phone.js")]) >= 10
    for module, names in imports.items():
        for name in names:
            assert HASH.search(name), f"{module} imports {name} by its plain name"
            target = (static_root / module).parent / name
            assert target.exists(), f"{module} imports {name}, which is not there"


def _hashed_name(root, name: str) -> str:
    import json

    return PurePosixPath(json.loads((root / "staticfiles.json").read_text())["paths"][name]).name


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "volunteer"])
def test_a_page_loads_each_of_its_modules_once_and_by_its_hashed_name(
    hashed, who, coordinator, volunteer
):
    client = Client()
    user, path = {
        "coordinator": (coordinator, "/dashboard/"),
        "volunteer": (volunteer.user, "/phone/"),
    }[who]
    client.force_login(user)

    page = client.get(path).content.decode()
    loaded = LOADED.findall(page)
    graph = _module_graph(hashed, loaded)

    assert [url for url in loaded if not HASH.search(url)] == []
    assert "/static/tongxin/api.js" in graph
    assert {name: urls for name, urls in graph.items() if len(urls) > 1} == {}
    assert all(HASH.search(url) for urls in graph.values() for url in urls)


def test_it_serves_a_hashed_file_for_ever_and_gzipped(hashed):
    from django.templatetags.static import static

    url = static("tongxin/api.js")
    client = Client()  # its WhiteNoise reads the collected folder

    plain = client.get(url)
    gzipped = client.get(url, headers={"accept-encoding": "gzip, br"})
    unhashed = client.get("/static/tongxin/api.js")

    assert HASH.search(url)
    assert plain.status_code == gzipped.status_code == 200
    assert "immutable" in plain["Cache-Control"]
    assert "max-age=315360000" in plain["Cache-Control"]
    assert gzipped["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain
    # The plain name is the file as written: kept briefly, not for ever.
    assert "immutable" not in unhashed["Cache-Control"]


def test_the_service_worker_keeps_the_hashed_shell_at_its_own_url(hashed):
    client = Client()

    worker = client.get("/phone/sw.js")
    shell = re.search(r"const SHELL = (\[.*?\]);", worker.content.decode()).group(1)

    assert worker.status_code == 200
    assert worker["Cache-Control"] == "no-cache"
    assert '"/static/tongxin/api.' in shell
    assert all(HASH.search(url) for url in re.findall(r'"([^"]+)"', shell))
