"""Shared fixtures: a tiny offline Llama and small synthetic Fair-PP data, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (read there, never copied); skip if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny Llama + tokenizer (with chat template) built offline by fairpp_hf.tiny."""
    from fairpp_hf.tiny import build_tiny_model

    path = tmp_path_factory.mktemp("tiny-llama")
    build_tiny_model(path)
    return path


@pytest.fixture(scope="session")
def small_records():
    """300 synthetic questions in the canonical records layout."""
    from fairpp_hf.synthetic import synthetic_records

    return synthetic_records(300, seed=1)
