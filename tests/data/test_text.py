"""Labelled text: the SST-2 reader, the word tokenizer, padding/masking and bad input."""

from __future__ import annotations

import pytest
import torch

from diswot.data import WordTokenizer, load_dataset, make_text_dataset, read_labelled_text
from diswot.errors import DataError


@pytest.fixture(scope="module")
def sst2(shared_data):
    return load_dataset("sst2", shared_data), load_dataset("sst2", shared_data, train=False)


def test_sst2_reads_train_phrases_and_dev_sentences(sst2):
    train, dev = sst2
    assert len(train) == 67_349 and len(dev) == 872  # the GLUE SST-2 sizes
    assert train.classes == ["0", "1"] and 0.4 < float(dev.labels.float().mean()) < 0.6
    # every sequence starts with [CLS], the mask covers exactly the real tokens
    assert bool((train.input_ids[:, 0] == 2).all())
    lengths = train.attention_mask.sum(1)
    assert bool((train.input_ids.gather(1, (lengths - 1)[:, None]) == 3).all())  # [SEP] last
    assert bool((train.input_ids[~train.attention_mask] == 0).all())  # padding is [PAD]


def test_tokenizer_is_reproducible_and_maps_unknown_words():
    tok = WordTokenizer.build(["a good film", "a bad film", "good good"])
    assert tok.vocab[:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] and tok.vocab[4] == "good"
    ids, mask = tok.encode(["good zebra"], max_len=6)
    assert ids.tolist() == [[2, tok.index["good"], 1, 3, 0, 0]] and mask.sum() == 4
    ids, _ = tok.encode(["a " * 50], max_len=5)  # long texts are truncated to the length asked
    assert ids.shape == (1, 5) and ids[0, -1] == 3


def test_balanced_batch_is_class_balanced_and_seeded(sst2):
    train, _ = sst2
    ids, mask, labels = train.balanced_batch(32, seed=1)
    again = train.balanced_batch(32, seed=1)
    assert labels.bincount().tolist() == [16, 16]
    assert torch.equal(ids, again[0]) and torch.equal(mask, again[1])


def test_text_file_without_the_label_column(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("sentence\tscore\nnice\t1\n")
    with pytest.raises(DataError, match="no 'label' column"):
        read_labelled_text(path)


def test_labels_outside_the_class_set(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("label,text\n0,fine\n7,strange\n")
    texts, labels = read_labelled_text(path)
    with pytest.raises(DataError, match=r"labels \['7'\] are outside the class set"):
        make_text_dataset(texts, labels, WordTokenizer.build(texts), ["0", "1"])


def test_sequences_longer_than_the_model_maximum(sst2):
    from diswot.models import TransformerClassifier

    train, _ = sst2
    model = TransformerClassifier(vocab_size=30522, hidden=64, layers=1, heads=1, ffn=128, max_len=32)
    with pytest.raises(DataError, match="exceeds the model's maximum of 32"):
        model(train.input_ids[:2], train.attention_mask[:2])  # 64 tokens


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"sentence\tlabel\nnice\t1\n" + "caf\xe9\t0\n".encode("latin-1"), "not UTF-8 text"),
        (b"label\n1\n0\n", "needs a text column"),
    ],
)
def test_undecodable_or_textless_files_are_a_clear_error(tmp_path, content, message):
    path = tmp_path / "train.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_labelled_text(path)
