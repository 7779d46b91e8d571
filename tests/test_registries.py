"""Registry-driven contracts of the search strategies, the executors and the datasets, and the
CIFAR-100 reader on a tiny copy in the official python layout.

The parameters are read from ``STRATEGIES``, ``EXECUTORS`` and ``DATASETS``, so a new plug-in
is checked here without editing a list (a dataset also needs a tiny copy in ``TINY_COPIES``,
and the test that demands one says so). Probes that other test modules register (named
``test-...``) are exercised where they are defined.
"""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diswot.data import load_dataset
from diswot.data.readers import DATASETS
from diswot.data.transforms import CIFAR100_MEAN
from diswot.errors import DataError, DiswotError
from diswot.proxies import Batch
from diswot.registry import Registry
from diswot.scoring import EXECUTORS
from diswot.scoring.executors import ScoringJob, make_executor
from diswot.search import STRATEGIES, StrategyParams, search
from diswot.search_spaces import get_space

SMALL_NB201 = {"cells": 1}  # only makes the networks smaller
FAST = {"progress": False, "plots": False, "params": StrategyParams(population=4, tournament=2,
        proposals_per_step=2), "proxy": "params"}  # fmt: skip


def shipped(registry: Registry) -> list[str]:
    return [name for name in registry.names() if not name.startswith("test-")]


# strategies -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", shipped(STRATEGIES))
def test_strategy_scores_distinct_members_and_is_a_function_of_its_seed(name):
    space = get_space("nb201", **SMALL_NB201)
    runs = []
    for global_seed in (0, 1):  # the global RNG must not matter: strategies draw from ctx.rng
        random.seed(global_seed)
        runs.append(search(space, strategy=name, evaluations=6, seed=5, **FAST))
    first, second = runs
    keys = [e.arch for e in first.history]
    assert keys == [e.arch for e in second.history]
    assert len(keys) == len(set(keys)) == first.evaluations == 6
    for key in keys:
        assert space.invalid_reason(space.check(space.decode(key))) is None
    assert first.arch in keys and first.score == max(e.score for e in first.history)


# executors --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scoring_job() -> ScoringJob:
    space = get_space("nb201", **SMALL_NB201)
    images, labels = load_dataset("sample").balanced_batch(10, seed=0)
    return ScoringJob(space, ["params", "synflow"], [Batch(images, labels)], [None], num_classes=10, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", shipped(EXECUTORS))
def test_executor_gives_the_in_process_scores_in_order(name, scoring_job):
    space, rng = scoring_job.space, random.Random(0)
    keys = [space.encode(space.sample(rng)) for _ in range(3)]
    expected = [{p: value for p, (value, _ms) in s.items()} for s in scoring_job.score(keys)]
    try:
        executor = make_executor(name, scoring_job, workers=2)
    except DiswotError as exc:  # an optional dependency (ray) that is not installed
        pytest.skip(str(exc))
    try:
        assert executor.workers >= 1
        found = executor.map(keys)
    finally:
        executor.close()
    assert [{p: value for p, (value, _ms) in s.items()} for s in found] == expected
    with pytest.raises(DiswotError, match="at least 1"):
        make_executor(name, scoring_job, workers=0)


# datasets ---------------------------------------------------------------------------------------
def _pickle(path: Path, payload: dict) -> None:
    path.write_bytes(pickle.dumps(payload, protocol=2))


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def tiny_cifar10(root: Path) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    _pickle(folder / "data_batch_1", {"data": _rows(20, 0), "labels": [i % 10 for i in range(20)]})
    _pickle(folder / "test_batch", {"data": _rows(10, 1), "labels": list(range(10))})
    return root


FINE = [f"fine{i}" for i in range(100)]


def tiny_cifar100(root: Path, keys: Callable[[str], str | bytes] = str) -> Path:
    """The official layout: ``cifar-100-python/{train,test,meta}``, fine and coarse labels."""
    folder = root / "cifar-100-python"
    folder.mkdir()
    _pickle(folder / "meta", {keys("fine_label_names"): FINE,
                              keys("coarse_label_names"): [f"coarse{i}" for i in range(20)]})  # fmt: skip
    for split, n, seed in (("train", 30, 2), ("test", 12, 3)):
        fine = [(7 * i + seed) % 100 for i in range(n)]
        _pickle(folder / split, {keys("data"): _rows(n, seed), keys("fine_labels"): fine,
                                 keys("coarse_labels"): [f // 5 for f in fine],
                                 keys("filenames"): [f"{split}_{i}.png" for i in range(n)],
                                 keys("batch_label"): f"{split} batch"})  # fmt: skip
    return root


def tiny_folder(root: Path) -> Path:
    for split in ("train", "test"):
        for colour in ("red", "blue"):
            (root / split / colour).mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (8, 8), colour).save(root / split / colour / f"{i}.png")
    return root


def tiny_sst2(root: Path) -> Path:
    folder = root / "sst2"
    folder.mkdir()
    rows = "label\tsentence\n" + "".join(f"{i % 2}\t{('bad', 'good')[i % 2]} film {i}\n" for i in range(8))
    (folder / "train.tsv").write_text(rows)
    (folder / "dev.tsv").write_text(rows)
    return root


#: a tiny copy of each registered dataset (``None``: the dataset needs no files)
TINY_COPIES: dict[str, Callable[[Path], Path] | None] = {
    "cifar10": tiny_cifar10, "cifar100": tiny_cifar100, "folder": tiny_folder, "sample": None,
    "sst2": tiny_sst2,
}  # fmt: skip


@pytest.mark.parametrize("name", shipped(DATASETS))
def test_dataset_reads_both_splits_of_a_tiny_copy(name, tmp_path):
    assert name in TINY_COPIES, f"add a tiny copy of dataset {name!r} to TINY_COPIES in {__file__}"
    make = TINY_COPIES[name]
    root = make(tmp_path) if make else None
    for train in (True, False):
        data = load_dataset(name, root, train=train)
        assert data.input_kind == DATASETS.get(name).input_kind
        assert len(data) == len(data.labels) > 0
        assert int(data.labels.min()) >= 0 and int(data.labels.max()) < data.num_classes
        batch = data.scoring_batch(2, seed=0)
        assert batch.kind == data.input_kind and batch.inputs.shape[0] == 2


@pytest.mark.parametrize("name", [n for n in shipped(DATASETS) if TINY_COPIES.get(n, True) is not None])
def test_dataset_in_an_empty_folder_is_a_one_line_error(name, tmp_path):
    with pytest.raises(DataError) as caught:
        load_dataset(name, tmp_path)
    assert "\n" not in str(caught.value) and str(tmp_path) in str(caught.value)


# the CIFAR-100 reader -----------------------------------------------------------------------------
@pytest.mark.parametrize("keys", [str, str.encode], ids=["str-keys", "bytes-keys"])
def test_cifar100_reads_fine_labels_and_names_of_the_official_layout(tmp_path, keys):
    root = tiny_cifar100(tmp_path, keys)
    train, test = load_dataset("cifar100", root), load_dataset("cifar100", root, train=False)
    with open(root / "cifar-100-python" / "train", "rb") as f:
        official = pickle.load(f)
    data = official[keys("data")]
    assert train.name == "cifar100" and train.classes == FINE and train.num_classes == 100
    assert torch.equal(train.images, torch.from_numpy(data.reshape(-1, 3, 32, 32)))
    assert train.labels.tolist() == official[keys("fine_labels")]  # fine, not coarse
    assert len(train) == 30 and len(test) == 12
    assert test.labels.tolist() == [(7 * i + 3) % 100 for i in range(12)]
    assert tuple(train.mean) == pytest.approx(CIFAR100_MEAN)
    same = load_dataset("cifar100", root / "cifar-100-python")  # the folder itself as the root
    assert torch.equal(same.images, train.images)


def test_cifar100_without_its_test_pickle_is_a_clear_error(tmp_path):
    root = tiny_cifar100(tmp_path)
    (root / "cifar-100-python" / "test").unlink()
    assert len(load_dataset("cifar100", root)) == 30
    with pytest.raises(DataError, match="test is missing"):
        load_dataset("cifar100", root, train=False)
