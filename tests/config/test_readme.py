"""The README is the operator's manual: it must list every setting the code reads."""

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def _variables_read_by(path: Path) -> set[str]:
    return set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z_]+)"', path.read_text()))


def test_it_documents_every_environment_variable_in_the_configuration_table():
    readme = (PROJECT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    variables = _variables_read_by(PROJECT / "config" / "settings.py")

    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"} <= variables
    assert sorted(name for name in variables if f"`{name}`" not in table) == []


def test_it_names_the_two_commands_that_exist_in_the_makefile():
    readme = (PROJECT / "README.md").read_text()
    makefile = (PROJECT / "Makefile").read_text()

    for command in ("make run", "make test"):
        assert command in readme
        assert re.search(rf"^{command.split()[1]}:", makefile, re.MULTILINE)
