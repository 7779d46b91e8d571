"""Shared fixtures: the real data in ../shared/data (CIFAR-10 batch, NB201 table, SST-2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DISWOT_SHARED_DATA", REPO.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data {path} is not present (set DISWOT_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def nb201_table(shared_data: Path) -> Path:
    return _require(shared_data / "nb201" / "nats_tss_test_acc_200ep.csv")


@pytest.fixture(scope="session")
def cifar10_train(shared_data: Path):
    from diswot.data import load_dataset

    return load_dataset("cifar10", shared_data)
