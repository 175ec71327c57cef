"""The phone page's tests share the sign-in tests' SMS outbox and imported members."""

from tests.signin.conftest import imported, outbox  # noqa: F401  (fixtures)
