"""Shared fixtures: the real data in ../shared/data (CIFAR-10 batch, NB201 table, SST-2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Under pytest-xdist every worker would start one torch thread per core, and the workers together
# would ask the cores for more threads than they have (slower, not faster): give each worker its
# share. Set before torch is imported so that subprocesses the tests start inherit it too.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ and "OMP_NUM_THREADS" not in os.environ:
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = str(_share)
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
