"""Dataset readers: CIFAR-10/100 (official python layout), image folders, the embedded sample.

Readers are registered by name (``diswot list datasets``) and return an :class:`ImageDataset`.
"""

from __future__ import annotations

import hashlib
import tarfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diswot.data.batch import InputKind, Tokenizer
from diswot.data.dataset import ImageDataset, LabelledData
from diswot.data.safe_pickle import safe_load
from diswot.data.transforms import CIFAR100_MEAN, CIFAR100_STD, IMAGENET_MEAN, IMAGENET_STD
from diswot.errors import DataError
from diswot.registry import Registry


@dataclass(frozen=True)
class DatasetReader:
    """A registered dataset: its reader ``read(root, train=..., download=..., [tokenizer=...])``
    and what its examples are (images, or texts that a tokenizer turns into tokens)."""

    read: Callable[..., Any]
    input_kind: InputKind = "images"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.read(*args, **kwargs)


DATASETS: Registry[DatasetReader] = Registry("dataset")


def register_dataset(
    name: str, summary: str, input_kind: InputKind = "images"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a reader as dataset ``name``; text readers declare ``"tokens"``
    (and take a ``tokenizer`` keyword)."""

    def add(read: Callable[..., Any]) -> Callable[..., Any]:
        DATASETS.register(name, summary)(DatasetReader(read, input_kind))
        return read

    return add


CIFAR_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
CIFAR_ARCHIVES = {
    "cifar10": (
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        "cifar-10-batches-py",
    ),
    "cifar100": (
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        "cifar-100-python",
    ),
}


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_cifar(root: str | Path, dataset: str = "cifar10") -> Path:
    """Download and unpack the official archive into ``root`` (checksum verified)."""
    from tqdm import tqdm

    url, md5, folder = CIFAR_ARCHIVES[dataset]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / Path(url).name
    if not archive.exists() or _md5(archive) != md5:
        partial = archive.with_suffix(".part")
        with tqdm(unit="B", unit_scale=True, desc=f"downloading {dataset}") as bar:

            def report(blocks: int, block_size: int, total: int) -> None:
                bar.total = total
                bar.update(blocks * block_size - bar.n)

            try:
                urllib.request.urlretrieve(url, partial, reporthook=report)
            except OSError as exc:
                raise DataError(
                    f"could not download {url} ({exc}); fetch it by hand and unpack it into {root}"
                ) from exc
        if _md5(partial) != md5:
            partial.unlink()
            raise DataError(f"{url} failed its MD5 check; the download was discarded, try again")
        partial.rename(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root / folder


def _find_dir(root: str | Path, folder: str, dataset: str) -> Path:
    root = Path(root).expanduser()
    for candidate in (root / folder, root):
        if candidate.is_dir() and (candidate / "batches.meta").exists() | (candidate / "meta").exists():
            return candidate
    raise DataError(
        f"no {dataset} data under {root}: expected the official python layout "
        f"({folder}/ with its batch files). Pass --download to fetch it, or point --data-root "
        "at the folder that contains it."
    )


def _to_images(flat: np.ndarray, source: Path) -> torch.Tensor:
    array = np.asarray(flat, dtype=np.uint8)
    if array.ndim != 2 or array.shape[1] != 3072:
        raise DataError(f"{source}: 'data' must be N x 3072 uint8 rows, found shape {array.shape}")
    return torch.from_numpy(array.reshape(-1, 3, 32, 32).copy())


def _read_batch(path: Path, label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    batch = safe_load(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path} does not hold a CIFAR batch dict")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise DataError(f"{path} lacks the 'data' or '{label_key}' entry of a CIFAR batch")
    return _to_images(batch["data"], path), torch.as_tensor(batch[label_key], dtype=torch.long)


def _class_names(path: Path, key: str) -> list[str]:
    """The class names under ``key`` of the meta pickle ``path`` (empty when it has none)."""
    meta = safe_load(path)
    if not isinstance(meta, dict):
        raise DataError(f"{path} does not hold a CIFAR meta dict (found {type(meta).__name__})")
    names = meta.get(key, meta.get(key.encode(), []))
    if not isinstance(names, list | tuple):
        raise DataError(f"{path}: {key!r} must be a list of class names, found {type(names).__name__}")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _cifar_layout(
    root: str | Path, download: bool, which: str, meta_file: str, names_key: str
) -> tuple[Path, list[str]]:
    """The folder of a CIFAR copy (fetched first with ``download``) and its class names."""
    if download:
        download_cifar(root, which)
    folder = _find_dir(root, CIFAR_FOLDERS[which], which)
    return folder, _class_names(folder / meta_file, names_key)


@register_dataset("cifar10", "CIFAR-10 in the official python layout (--download to fetch it)")
def load_cifar10(root: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    """CIFAR-10; reads every ``data_batch_*`` present (a partial copy works too)."""
    folder, classes = _cifar_layout(root, download, "cifar10", "batches.meta", "label_names")
    files = sorted(folder.glob("data_batch_*")) if train else [folder / "test_batch"]
    files = [f for f in files if f.exists()]
    if not files:
        split = "training (data_batch_*)" if train else "test (test_batch)"
        raise DataError(f"{folder} has no {split} files")
    parts = [_read_batch(f, "labels") for f in files]
    return ImageDataset(
        torch.cat([p[0] for p in parts]),
        torch.cat([p[1] for p in parts]),
        classes,
        name="cifar10",
        source=str(folder),
    )


@register_dataset("cifar100", "CIFAR-100 (fine labels) in the official python layout")
def load_cifar100(root: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    folder, classes = _cifar_layout(root, download, "cifar100", "meta", "fine_label_names")
    path = folder / ("train" if train else "test")
    if not path.exists():
        raise DataError(f"{path} is missing")
    images, labels = _read_batch(path, "fine_labels")
    return ImageDataset(images, labels, classes, "cifar100", CIFAR100_MEAN, CIFAR100_STD, source=str(folder))


@register_dataset("folder", "an image folder: one sub-folder of images per class")
def load_image_folder(
    root: str | Path, train: bool = True, download: bool = False, image_size: int = 32
) -> ImageDataset:
    """Images under ``root/<class>/``; ``root/train`` and ``root/test`` are used when present."""
    from PIL import Image

    root = Path(root).expanduser()
    split_dir = root / ("train" if train else "test")
    base = split_dir if split_dir.is_dir() else root
    if not base.is_dir():
        problem = "is a file, not a folder" if root.exists() else "does not exist"
        raise DataError(f"image folder {root} {problem}; point --data-root at a folder of class sub-folders")
    class_dirs = sorted(d for d in base.iterdir() if d.is_dir())
    if not class_dirs:
        raise DataError(f"{base} has no class sub-folders (expected {base}/<class>/<image>)")
    images, labels = [], []
    suffixes = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
    for label, class_dir in enumerate(class_dirs):
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in suffixes:
                continue
            try:
                with Image.open(path) as img:
                    rgb = img.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
            except (OSError, Image.DecompressionBombError, ValueError, SyntaxError) as exc:
                # Pillow's plugins raise any of these for a malformed or hostile file (UnidentifiedImageError
                # is an OSError)
                raise DataError(f"cannot read image {path}: {exc}") from exc
            images.append(torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1))
            labels.append(label)
    if not images:
        raise DataError(f"no images found under {base}/<class>/ (extensions: {sorted(suffixes)})")
    mean, std = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    if image_size > 64:
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    return ImageDataset(
        torch.stack(images),
        torch.tensor(labels),
        [d.name for d in class_dirs],
        root.name,
        mean,
        std,
        source=str(base),
    )


@register_dataset("sample", "the embedded sample of 300 real CIFAR-10 training images")
def load_sample(root: str | Path | None = None, train: bool = True, download: bool = False) -> ImageDataset:
    """30 images of each CIFAR-10 class, shipped inside the package (needs no download)."""
    ref = resources.files("diswot.data").joinpath("assets/cifar10_sample.npz")
    with ref.open("rb") as f, np.load(f) as npz:
        return ImageDataset(
            torch.from_numpy(npz["images"]),
            torch.from_numpy(npz["labels"].astype(np.int64)),
            [str(c) for c in npz["classes"]],
            name="cifar10-sample",
            source="embedded sample",
        )


def parse_class_list(text: str) -> list[int]:
    """``"0-4"`` -> ``[0, 1, 2, 3, 4]``; ``"0,2,5-6"`` -> ``[0, 2, 5, 6]`` (order kept, no repeats)."""
    classes: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            classes.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError:
        raise DataError(
            f"cannot read the class list {text!r}; write e.g. classes=0-4 or classes=0,2,5"
        ) from None
    if not classes or len(set(classes)) != len(classes) or min(classes) < 0:
        raise DataError(f"the class list {text!r} must name distinct classes >= 0, e.g. classes=0-4")
    return classes


def split_dataset_spec(spec: str) -> tuple[str, list[int] | None]:
    """``"cifar10:classes=0-4"`` -> ``("cifar10", [0, ..., 4])``; a plain name -> ``(name, None)``."""
    name, sep, options = spec.partition(":")
    if not sep:
        return spec, None
    key, eq, value = options.partition("=")
    if key.strip() != "classes" or not eq:
        raise DataError(
            f"unknown dataset option {options!r} in {spec!r}; the one option is classes=..., "
            "e.g. cifar10:classes=0-4"
        )
    return name, parse_class_list(value)


def load_dataset(
    name: str = "sample",
    root: str | Path | None = None,
    train: bool = True,
    download: bool = False,
    tokenizer: Tokenizer | None = None,
) -> LabelledData:
    """Read dataset ``name`` from ``root``; ``name="sample"`` needs no root.

    ``name`` may end in ``:classes=0-4`` (or ``0,2,5``): only those classes, relabelled 0..k-1.
    ``tokenizer`` (text datasets only) replaces the built-in word tokenizer, e.g. a Hugging Face
    teacher's own (:func:`diswot.models.huggingface.teacher_tokenizer`), so that teacher and
    students read the token ids the teacher was trained on.
    """
    name, classes = split_dataset_spec(name)
    if classes is not None:
        data = load_dataset(name, root, train=train, download=download, tokenizer=tokenizer)
        if not isinstance(data, ImageDataset):
            raise DataError(f"classes=... selects image classes; dataset {name!r} is not images")
        return data.with_classes(classes)
    reader = DATASETS.get(name)
    if root is not None and name == "sample":  # never score on other data than the user pointed at
        raise DataError(
            f"a data root ({root}) was given but the dataset is the embedded sample; name the dataset "
            "in that folder with --dataset (diswot list datasets)"
        )
    if root is None and name != "sample":
        raise DataError(f"dataset {name!r} needs a data root (--data-root DIR)")
    if tokenizer is None:
        return reader(root, train=train, download=download)
    if reader.input_kind != "tokens":
        raise DataError(
            f"dataset {name!r} is not text, so a tokenizer (e.g. a Hugging Face teacher's) cannot apply "
            "to it; give a text dataset (e.g. --dataset sst2) or a teacher for images"
        )
    return reader(root, train=train, download=download, tokenizer=tokenizer)


def infer_dataset(root: str | Path) -> str | None:
    """The registered dataset whose layout ``root`` holds (the CIFAR python folders), or ``None``."""
    root = Path(root)
    for name, folder in CIFAR_FOLDERS.items():
        if (root / folder).is_dir() or root.name == folder:
            return name
    return None
