"""Fixtures of the dispatch tests. The rescuers near the scenes' site are in
tests/conftest.py: the incidents' tests use them too."""
