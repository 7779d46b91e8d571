import pickle

import numpy as np
import pytest
import torch

from diswot.data import load_dataset, load_sample, safe_load
from diswot.data.transforms import augment, random_crop
from diswot.errors import DataError, UnknownNameError, UnsafePickleError


def test_cifar10_training_batch(cifar10_train):
    data = cifar10_train
    assert len(data) == 10000 and data.images.shape == (10000, 3, 32, 32)
    assert data.images.dtype == torch.uint8 and data.num_classes == 10
    assert data.class_counts() == [1000] * 10
    assert data.classes[0] == "airplane" and data.classes[-1] == "truck"
    pixels = data.images.float().div(255)
    mean, std = pixels.mean((0, 2, 3)), pixels.std((0, 2, 3))
    assert torch.allclose(mean, torch.tensor([0.4914, 0.4822, 0.4465]), atol=0.01)
    assert torch.allclose(std, torch.tensor([0.2470, 0.2435, 0.2616]), atol=0.01)


def test_cifar10_test_split(shared_data):
    test = load_dataset("cifar10", shared_data, train=False)
    assert len(test) == 10000 and test.class_counts() == [1000] * 10


def test_normalised_batches_have_unit_statistics(cifar10_train):
    x, _ = next(cifar10_train.batches(2000, shuffle=True, seed=0))
    assert x.dtype == torch.float32 and x.shape == (2000, 3, 32, 32)
    assert x.mean().abs() < 0.1 and (x.std() - 1).abs() < 0.1


def test_balanced_batch_is_balanced_and_reproducible(cifar10_train):
    x1, y1 = cifar10_train.balanced_batch(64, seed=3)
    x2, y2 = cifar10_train.balanced_batch(64, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    counts = torch.bincount(y1, minlength=10)
    assert counts.max() - counts.min() <= 1
    assert not torch.equal(cifar10_train.balanced_batch(64, seed=4)[1], y1)


def test_embedded_sample_needs_no_files():
    sample = load_sample()
    assert len(sample) == 300 and sample.class_counts() == [30] * 10
    assert load_dataset("sample").images.shape == (300, 3, 32, 32)


def test_augmentation_is_batched_and_seeded():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    a = augment(images, 2, torch.Generator().manual_seed(0))
    b = augment(images, 2, torch.Generator().manual_seed(0))
    assert a.shape == images.shape and torch.equal(a, b)
    crops = random_crop(images, 2, torch.Generator().manual_seed(1))
    for crop, image in zip(crops, images, strict=True):  # every crop is a window of the padded image
        padded = torch.nn.functional.pad(image, (2, 2, 2, 2))
        assert any(torch.equal(crop, padded[:, i : i + 8, j : j + 8]) for i in range(5) for j in range(5))


def test_missing_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="--download"):
        load_dataset("cifar10", tmp_path / "nowhere")
    with pytest.raises(DataError, match="needs a data root"):
        load_dataset("cifar10")
    with pytest.raises(UnknownNameError, match="cifar10"):
        load_dataset("cifar11", tmp_path)


def test_pickle_that_imports_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo owned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": Evil()}))
    with pytest.raises(UnsafePickleError, match=r"(os|posix)\.system"):
        safe_load(path)
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({"label_names": ["a"]}))
    with pytest.raises(UnsafePickleError):
        load_dataset("cifar10", tmp_path)


def test_numpy_arrays_and_python2_pickles_are_admitted(tmp_path):
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3), np.uint8), "labels": [1, 2]}, protocol=2))
    loaded = safe_load(path)
    assert loaded[b"data"].shape == (2, 3) and loaded["labels"] == [1, 2]
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(path.read_bytes()[:20])
    with pytest.raises(UnsafePickleError, match="not a readable pickle"):
        safe_load(truncated)


def test_image_folder(tmp_path):
    from PIL import Image

    for label, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (40, 30), colour).save(tmp_path / label / f"{i}.png")
    (tmp_path / "cats" / "notes.txt").write_text("ignored")
    data = load_dataset("folder", tmp_path)
    assert data.classes == ["cats", "dogs"] and data.class_counts() == [3, 3]
    assert data.images.shape == (6, 3, 32, 32)
    assert data.images[0, 0].float().mean() > 250 and data.images[-1, 2].float().mean() > 250
    (tmp_path / "dogs" / "broken.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read image"):
        load_dataset("folder", tmp_path)
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_dataset("folder", tmp_path / "cats" / "notes.txt")
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        load_dataset("folder", empty)


def test_a_cifar_meta_that_is_not_a_dict_is_a_clear_error(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {"data": np.zeros((10, 3072), np.uint8), "labels": list(range(10))}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch))
    for meta, message in (([1, 2], "CIFAR meta dict"), ({"label_names": 3}, "list of class names")):
        (folder / "batches.meta").write_bytes(pickle.dumps(meta))
        with pytest.raises(DataError, match=message):
            load_dataset("cifar10", tmp_path)


def test_a_decompression_bomb_image_is_a_clear_error(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # a 20000 x 20000 PNG header: Pillow refuses it as a decompression bomb before decoding
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    with pytest.raises(DataError, match=r"cannot read image .*bomb"):
        load_dataset("folder", tmp_path)
