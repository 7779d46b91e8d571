"""Labelled text: TSV/CSV readers, a built-in tokenizer, and token tensors padded once.

A :class:`TextDataset` holds ``input_ids`` ``(N, T)`` and ``attention_mask`` ``(N, T)`` (1 for
real tokens) already padded to one length, so batches are slices and no model ever sees ragged
input. Tokenisation uses the teacher's own Hugging Face tokenizer when one is given (a local
folder, with ``transformers`` installed), else :class:`WordTokenizer`, built from the
training texts.
"""

from __future__ import annotations

import collections
import csv
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from diswot.data.batch import Batch, InputKind, Tokenizer
from diswot.data.dataset import BalancedDraws, round_robin
from diswot.data.readers import register_dataset
from diswot.errors import DataError

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


class WordTokenizer:
    """Lower-cased words and punctuation; ``[CLS]`` first (the classifier's token), ``[SEP]`` last.

    The vocabulary is the ``max_vocab`` most frequent words of the texts it is built from
    (ties broken alphabetically, so it is reproducible); others map to ``[UNK]``.
    """

    def __init__(self, vocab: Sequence[str]) -> None:
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)

    @classmethod
    def build(cls, texts: Sequence[str], max_vocab: int = 20_000) -> WordTokenizer:
        counts = collections.Counter(w for t in texts for w in cls.words(t))
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, max_vocab - 4)]
        return cls([PAD, UNK, CLS, SEP, *(w for w, _ in ranked)])

    @staticmethod
    def words(text: str) -> list[str]:
        return _WORD.findall(text.lower())

    def encode(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        if max_len < 3:
            raise DataError(f"max_len must leave room for [CLS], a token and [SEP]; got {max_len}")
        ids = torch.zeros(len(texts), max_len, dtype=torch.long)
        mask = torch.zeros(len(texts), max_len, dtype=torch.bool)
        unk = self.index[UNK]
        for row, text in enumerate(texts):
            tokens = [self.index.get(w, unk) for w in self.words(text)][: max_len - 2]
            sequence = [self.index[CLS], *tokens, self.index[SEP]]
            ids[row, : len(sequence)] = torch.tensor(sequence)
            mask[row, : len(sequence)] = True
        return ids, mask


@dataclass
class TextDataset(BalancedDraws):
    """Tokenised, padded, labelled texts."""

    input_ids: torch.Tensor  # (N, T) int64
    attention_mask: torch.Tensor  # (N, T) bool
    labels: torch.Tensor  # (N,) int64
    classes: list[str]
    name: str = "text"
    source: str = ""
    input_kind: ClassVar[InputKind] = "tokens"

    def __post_init__(self) -> None:
        if len(self.labels) == 0:
            raise DataError(f"{self.name} ({self.source}) holds no texts")
        if self.input_ids.shape != self.attention_mask.shape or len(self.input_ids) != len(self.labels):
            raise DataError(f"{self.name}: ids, mask and labels disagree in shape")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def max_len(self) -> int:
        return int(self.input_ids.shape[1])

    @functools.cached_property
    def largest_token_id(self) -> int:
        """Checked against every student's vocabulary, so computed once."""
        return int(self.input_ids.max())

    def subset(self, indices: Sequence[int] | torch.Tensor) -> TextDataset:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return TextDataset(self.input_ids[idx], self.attention_mask[idx], self.labels[idx], self.classes,
                           self.name, self.source)  # fmt: skip

    def rows(
        self, idx: torch.Tensor, device: torch.device | str = "cpu", trim_padding: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask, labels)`` of rows ``idx`` on ``device``.

        Padding columns that no row of the batch uses are cut off (``trim_padding``): models
        are mask-aware, so results are the same, and attention costs the square of the length,
        so short batches run several times faster than ones padded to ``max_len``.
        """
        ids, mask = self.input_ids[idx], self.attention_mask[idx]
        if trim_padding:
            used = torch.nonzero(mask.any(0))
            length = int(used.max()) + 1 if len(used) else 1
            ids, mask = ids[:, :length], mask[:, :length]
        return ids.to(device), mask.to(device), self.labels[idx].to(device)

    def balanced_batch(
        self, batch_size: int, seed: int = 0, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A reproducible class-balanced ``(input_ids, attention_mask, labels)`` batch."""
        chosen = round_robin(self.labels, self.num_classes, batch_size, torch.Generator().manual_seed(seed))
        if len(chosen) < batch_size:
            raise DataError(f"{self.name} has {len(self)} texts, fewer than the batch size {batch_size}")
        return self.rows(torch.tensor(chosen), device)

    def scoring_batch(self, batch_size: int, seed: int = 0, device: torch.device | str = "cpu") -> Batch:
        """The reproducible class-balanced batch proxies score on."""
        ids, mask, labels = self.balanced_batch(batch_size, seed=seed, device=device)
        return Batch(ids, labels, mask, "tokens")

    def epoch(
        self, batch_size: int, *, seed: int = 0, augment: bool = False, shuffle: bool = True,
        drop_last: bool = False, device: torch.device | str = "cpu",
    ) -> Iterator[Batch]:  # fmt: skip
        """One epoch of :class:`Batch` es (text has no augmentation; ``augment`` is ignored).

        An unshuffled epoch goes shortest text first (:meth:`batches` ``by_length``): evaluation
        gets the same result with the least padding.
        """
        for ids, mask, labels in self.batches(batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                                              device=device, by_length=not shuffle):  # fmt: skip
            yield Batch(ids, labels, mask, "tokens")

    @property
    def example_inputs(self) -> torch.Tensor:
        return self.input_ids[:1]

    def batches(
        self, batch_size: int, *, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
        device: torch.device | str = "cpu", trim_padding: bool = True, by_length: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:  # fmt: skip
        """One epoch of ``(input_ids, attention_mask, labels)`` batches on ``device`` (see :meth:`rows`).

        ``by_length`` (without ``shuffle``) goes shortest text first, so each batch is cut to
        about its own length: for evaluation, where the order does not matter.
        """
        generator = torch.Generator().manual_seed(seed)
        if shuffle:
            order = torch.randperm(len(self), generator=generator)
        elif by_length:
            order = torch.argsort(self.attention_mask.sum(1), stable=True)
        else:
            order = torch.arange(len(self))
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            yield self.rows(order[start : start + batch_size], device, trim_padding)


def check_token_ids(dataset: TextDataset, vocab_size: int, who: str) -> None:
    """Fail clearly when ``dataset`` holds token ids beyond ``who``'s embedding table."""
    largest = dataset.largest_token_id
    if largest >= vocab_size:
        raise DataError(
            f"{dataset.name} holds token id {largest} but {who} embeds only {vocab_size} tokens: the "
            "tokenizer's vocabulary is larger than the model's; build the space with a vocab_size of "
            "at least the tokenizer's (e.g. AutoDistilSpace(vocab_size=...)) or use a smaller tokenizer"
        )


def read_labelled_text(
    path: str | Path, label_column: str = "label", text_column: str | None = None
) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` from a TSV (``.tsv``) or CSV file with a header row.

    The text column defaults to the first column that is not the label column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"text file {path} does not exist")
    delimiter = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(
                f, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
            )
            header = next(reader, None)
            if not header:
                raise DataError(f"{path} is empty; expected a header row with a {label_column!r} column")
            if label_column not in header:
                raise DataError(
                    f"{path} has no {label_column!r} column (found {header}); name the label column "
                    "with label_column=... (read_labelled_text)"
                )
            label_at = header.index(label_column)
            others = [i for i, h in enumerate(header) if i != label_at]
            if not others:
                raise DataError(f"{path} has only the {label_column!r} column; it needs a text column too")
            if text_column is not None and text_column not in header:
                raise DataError(f"{path} has no {text_column!r} column (found {header})")
            text_at = header.index(text_column) if text_column else others[0]
            texts, labels = [], []
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) <= max(label_at, text_at):
                    raise DataError(f"{path}:{line}: expected {len(header)} columns, found {len(row)}")
                texts.append(row[text_at])
                labels.append(row[label_at].strip())
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); re-save it as UTF-8"
        ) from exc
    except csv.Error as exc:  # NUL bytes, a runaway quote: not a text table
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise DataError(f"{path} is not a readable {kind} file: {exc}") from exc
    return texts, labels


def make_text_dataset(
    texts: Sequence[str],
    labels: Sequence[str],
    tokenizer: Tokenizer,
    classes: Sequence[str],
    max_len: int = 64,
    name: str = "text",
    source: str = "",
) -> TextDataset:
    """Tokenise and pad ``texts``; every label must be one of ``classes``."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for lab in labels if lab not in index})
    if unknown:
        raise DataError(
            f"{source or name}: labels {unknown[:5]} are outside the class set {list(classes)}; "
            "check the label column"
        )
    ids, mask = tokenizer.encode(list(texts), max_len)
    targets = torch.tensor([index[lab] for lab in labels], dtype=torch.long)
    return TextDataset(ids, mask, targets, list(classes), name, source)


def load_sst2(
    root: str | Path, train: bool = True, max_len: int = 64, tokenizer: Tokenizer | None = None,
    max_train: int | None = None,
) -> TextDataset:  # fmt: skip
    """GLUE SST-2 from ``root/sst2/{train,dev}.tsv`` (or ``root/{train,dev}.tsv``).

    The tokenizer defaults to a :class:`WordTokenizer` built from the training phrases, so the
    train and dev sets share one vocabulary.
    """
    base = Path(root)
    base = base / "sst2" if (base / "sst2").is_dir() else base
    source = base / ("train.tsv" if train else "dev.tsv")
    if train or tokenizer is None:  # the dev set needs the training phrases only for a vocabulary
        train_texts, train_labels = read_labelled_text(base / "train.tsv")
        if max_train is not None:
            train_texts, train_labels = train_texts[:max_train], train_labels[:max_train]
        tokenizer = tokenizer or WordTokenizer.build(train_texts)
    texts, labels = (train_texts, train_labels) if train else read_labelled_text(source)
    return make_text_dataset(texts, labels, tokenizer, ["0", "1"], max_len, "sst2", str(source))


def _read_sst2(
    root: str | Path | None, train: bool = True, download: bool = False, tokenizer: Tokenizer | None = None
) -> TextDataset:
    if root is None:
        raise DataError(
            "dataset 'sst2' needs a data root holding sst2/train.tsv and sst2/dev.tsv (--data-root)"
        )
    if download:
        raise DataError("sst2 is not downloaded automatically; fetch GLUE SST-2 and pass its folder")
    return load_sst2(root, train=train, tokenizer=tokenizer)


register_dataset(
    "sst2", "GLUE SST-2 sentiment (train phrases, dev sentences), word-tokenised", input_kind="tokens"
)(_read_sst2)
