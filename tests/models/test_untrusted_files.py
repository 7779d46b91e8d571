"""Teacher files from elsewhere never run code: custom-code folders and code-running pickles.

Each hostile file here would create ``marker`` if anything imported or unpickled it; the tests
assert a clear refusal and that the marker does not exist.
"""

from __future__ import annotations

import json

import pytest
import torch

from diswot.errors import CheckpointError
from diswot.models import load_teacher

transformers = pytest.importorskip("transformers")

from diswot.models.huggingface import SAFE_LOADING, teacher_tokenizer  # noqa: E402


class _CreatesFile:
    """Unpickling this opens ``path`` for writing: it creates the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _bert_folder(folder, *, weights: bool = True):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"]
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, num_labels=2,
                                     max_position_embeddings=16)  # fmt: skip
    if weights:
        torch.manual_seed(0)
        transformers.BertForSequenceClassification(config).save_pretrained(folder)
    else:
        config.save_pretrained(folder)
    transformers.BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}).save_pretrained(folder)
    return folder


def _add_code(folder, config_name: str, module: str, marker, entries: dict) -> None:
    (folder / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    config_file = folder / config_name
    content = json.loads(config_file.read_text())
    content.update(entries)
    config_file.write_text(json.dumps(content))


@pytest.mark.parametrize("trust", [False, True])
def test_a_config_naming_custom_code_is_refused_and_never_imported(tmp_path, trust):
    folder = _bert_folder(tmp_path / "teacher")
    marker = tmp_path / "imported"
    entries: dict = {"auto_map": {"AutoConfig": "modeling_x.XConfig",
                                  "AutoModelForSequenceClassification": "modeling_x.XModel"}}  # fmt: skip
    if trust:
        entries["trust_remote_code"] = True
    _add_code(folder, "config.json", "modeling_x", marker, entries)
    with pytest.raises(CheckpointError, match=r"config\.json has 'auto_map'"):
        load_teacher(folder, num_classes=2)
    with pytest.raises(CheckpointError, match=r"config\.json has 'auto_map'"):
        teacher_tokenizer(folder)
    assert not marker.exists()
    # behind the refusal, transformers as diswot calls it ignores the auto_map (it loads the
    # folder's built-in model_type, BERT) and never imports the module
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder, **SAFE_LOADING)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert not marker.exists()


def test_a_tokenizer_config_naming_custom_code_is_refused(tmp_path):
    folder = _bert_folder(tmp_path / "teacher")
    marker = tmp_path / "imported"
    _add_code(folder, "tokenizer_config.json", "tokenization_x", marker,
              {"auto_map": {"AutoTokenizer": ["tokenization_x.XTokenizer", None]}})  # fmt: skip
    with pytest.raises(CheckpointError, match=r"tokenizer_config\.json has 'auto_map'"):
        teacher_tokenizer(folder)
    with pytest.raises(CheckpointError, match=r"tokenizer_config\.json has 'auto_map'"):
        load_teacher(folder, num_classes=2)
    assert not marker.exists()


def test_a_clean_folder_still_loads(tmp_path):
    folder = _bert_folder(tmp_path / "teacher")
    teacher = load_teacher(folder, num_classes=2)
    assert teacher.meta["head"] == "trained"
    assert teacher_tokenizer(folder) is not None


def test_a_pickled_bin_that_runs_code_is_refused(tmp_path):
    folder = _bert_folder(tmp_path / "teacher", weights=False)  # config and tokenizer, no weights
    marker = tmp_path / "unpickled"
    torch.save({"bert.embeddings.word_embeddings.weight": _CreatesFile(str(marker))},
               folder / "pytorch_model.bin")  # fmt: skip
    with pytest.raises(CheckpointError, match="cannot load a sequence classifier"):
        load_teacher(folder, num_classes=2)
    assert not marker.exists()


def test_a_checkpoint_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "teacher.pt"
    torch.save({"format": "diswot", "state_dict": {"w": _CreatesFile(str(marker))}}, path)
    with pytest.raises(CheckpointError, match="need arbitrary code to unpickle are refused"):
        load_teacher(path, model="resnet8")
    assert not marker.exists()


def test_an_unreadable_config_is_a_clear_error(tmp_path):
    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"cannot read .*config\.json"):
        load_teacher(folder, num_classes=2)
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="must hold a JSON object"):
        load_teacher(folder, num_classes=2)
