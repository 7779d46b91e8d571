"""BERT-family teachers from local Hugging Face folders, end to end on real SST-2.

The folders are written here with ``transformers`` itself (a small BERT with a WordPiece
vocabulary of SST-2 words), so nothing is fetched from the hub.
"""

from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from diswot import run_search as search  # noqa: E402
from diswot.data import WordTokenizer, load_dataset  # noqa: E402
from diswot.data.text import read_labelled_text  # noqa: E402
from diswot.distill import Recipe, distill  # noqa: E402
from diswot.errors import CheckpointError, DataError  # noqa: E402
from diswot.models import load_teacher  # noqa: E402
from diswot.models.features import FeatureExtractor, capturing_attention  # noqa: E402
from diswot.models.huggingface import teacher_tokenizer  # noqa: E402
from diswot.scoring.store import teacher_fingerprint  # noqa: E402
from diswot.search_spaces.autodistil import AutoDistilTiny  # noqa: E402


def write_bert_folder(folder, texts, *, with_head: bool = True, num_labels: int = 2, vocab: int = 3000):
    """A 2-layer BERT (hidden 64, 2 heads) and its WordPiece tokenizer in the Hugging Face layout."""
    words = WordTokenizer.build(texts, max_vocab=vocab).vocab[4:]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    tokenizer = transformers.BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)})
    config = transformers.BertConfig(vocab_size=len(tokens), hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=128, num_labels=num_labels,
                                     max_position_embeddings=128)  # fmt: skip
    torch.manual_seed(0)
    cls = transformers.BertForSequenceClassification if with_head else transformers.BertModel
    cls(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def sst2_texts(shared_data):
    texts, _labels = read_labelled_text(shared_data / "sst2" / "train.tsv")
    return texts[:5000]


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory, sst2_texts):
    return write_bert_folder(tmp_path_factory.mktemp("bert") / "tiny-bert", sst2_texts)


def test_a_folder_teacher_gives_the_hugging_face_logits(bert_folder, shared_data):
    teacher = load_teacher(bert_folder, num_classes=2)
    assert teacher.pretrained and teacher.meta["head"] == "trained" and teacher.num_classes == 2
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(bert_folder).eval()
    tokens = transformers.AutoTokenizer.from_pretrained(bert_folder)(
        ["a gorgeous , witty , seductive movie .", "bad"], padding=True, return_tensors="pt"
    )
    teacher.model.eval()
    with torch.no_grad():
        expected = hf(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).logits
        got = teacher.model(tokens["input_ids"], tokens["attention_mask"].bool())
    torch.testing.assert_close(got, expected)


def test_sst2_is_tokenised_with_the_teachers_own_tokenizer(bert_folder, shared_data):
    tokenizer = teacher_tokenizer(bert_folder)
    data = load_dataset("sst2", shared_data, tokenizer=tokenizer)
    hf = transformers.AutoTokenizer.from_pretrained(bert_folder)
    texts, _ = read_labelled_text(shared_data / "sst2" / "train.tsv")
    expected = hf(texts[:5], padding="max_length", truncation=True, max_length=data.max_len)["input_ids"]
    assert data.input_ids[:5].tolist() == expected
    assert int(data.input_ids.max()) < tokenizer.vocab_size
    with pytest.raises(DataError, match="not text"):
        load_dataset("sample", tokenizer=tokenizer)


def test_features_and_attention_relations_of_a_folder_teacher(bert_folder, shared_data):
    data = load_dataset("sst2", shared_data, tokenizer=teacher_tokenizer(bert_folder))
    batch = data.scoring_batch(8, seed=0)
    model = load_teacher(bert_folder, num_classes=2).model.eval()
    with capturing_attention(model) as captured:
        feats = FeatureExtractor(model)(*batch.model_args())
    length = batch.inputs.shape[1]  # the batch's longest text: padding beyond it is cut off
    assert length == int(batch.attention_mask.sum(1).max()) < data.max_len
    assert feats.feature_map.shape == (8, length, 64) and feats.logits.shape == (8, 2)
    probs, values = captured[-1]
    assert probs.shape == (8, 2, length, length) and values.shape == (8, 2, length, 32)
    real = batch.attention_mask[:, None, :, None].expand_as(probs[..., :1]).squeeze(-1)
    torch.testing.assert_close(probs.sum(-1)[real], torch.ones(int(real.sum())))  # distributions
    # no capture outside the block, so plain forwards stay as cheap as Hugging Face's own
    model(*batch.model_args())
    assert model.relations.last_probs is None


def test_an_encoder_only_folder_gets_a_fresh_head_and_a_trained_head_must_fit(tmp_path, sst2_texts):
    encoder = write_bert_folder(tmp_path / "encoder", sst2_texts[:500], with_head=False)
    teacher = load_teacher(encoder, num_classes=5)
    assert teacher.meta["head"] == "random-init" and teacher.num_classes == 5
    trained = write_bert_folder(tmp_path / "cls", sst2_texts[:500])
    with pytest.raises(CheckpointError, match="classifies 2 classes but the data has 3"):
        load_teacher(trained, num_classes=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        load_teacher(tmp_path / "empty")


def test_the_folder_fingerprint_follows_its_weights(tmp_path, sst2_texts):
    folder = write_bert_folder(tmp_path / "a", sst2_texts[:500])
    before = teacher_fingerprint(str(folder))
    assert teacher_fingerprint(str(folder)) == before
    config = json.loads((folder / "config.json").read_text())
    config["hidden_dropout_prob"] = 0.2
    (folder / "config.json").write_text(json.dumps(config))
    assert teacher_fingerprint(str(folder)) != before


def test_search_and_distill_with_a_folder_teacher(bert_folder, shared_data, tmp_path):
    found = search("autodistil-tiny", teacher=str(bert_folder), data="sst2", data_root=shared_data,
                   proxy="minilm", record=["diswot_relational"], evaluations=2, batch_size=16,
                   out=tmp_path / "s", progress=False, plots=False)  # fmt: skip
    assert found.evaluations == 2 and -10 < found.score < 0
    recipe = Recipe(epochs=1, batch_size=32, lr=1e-3, optimizer="adamw", seed=0)
    result = distill(str(bert_folder), [f"autodistil-tiny:{found.arch}"], "kd:0.5,minilm:0.5",
                     dataset="sst2", data_root=shared_data, recipe=recipe, train_subset=128,
                     out=tmp_path / "d", progress=False)[0]  # fmt: skip
    assert result["teacher"] == str(bert_folder) and (tmp_path / "d" / "model.pt").is_file()


def test_a_tokenizer_larger_than_the_students_vocabulary_is_refused(bert_folder, shared_data):
    with pytest.raises(DataError, match="embeds only 100 tokens"):
        search(AutoDistilTiny(vocab_size=100), teacher=str(bert_folder), data="sst2", data_root=shared_data,
               proxy="params", evaluations=1, progress=False)  # fmt: skip
