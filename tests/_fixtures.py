"""Shared fixtures, loaded by tests/conftest.py as a plugin."""

import pytest

from audit.data.demo import write_demo


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory):
    """Demo data and model written once per test session (1,500 train and 1,000 holdout rows)."""
    return write_demo(tmp_path_factory.mktemp("demo"), n_train=1500, n_test=1000)
