"""Shared fixtures. Keep this small: module-specific fixtures live in their test files."""
from __future__ import annotations

import pytest

from tests.fakes import fake_models, no_models  # noqa: F401  (fixtures for the tests of orchestration)


@pytest.fixture(scope="session")
def model_store(tmp_path_factory):
    """A fresh model store for the session ($PODSCRIBE_MODELS_DIR); checksums still come
    from the repository's models/manifest.toml."""
    store = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PODSCRIBE_MODELS_DIR", str(store))
        yield store
