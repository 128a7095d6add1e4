"""Entity-extraction tests need no OpenSearch; the spaCy model is loaded once per session."""

from __future__ import annotations

from typing import Any

import pytest

from entity_extraction.pipeline import load_model


@pytest.fixture(scope="session")
def nlp() -> Any:
    return load_model()
