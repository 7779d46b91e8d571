"""BERT-family teachers from a local Hugging Face folder (needs the optional ``transformers``).

A folder in the Hugging Face layout (``config.json``, weights, and usually the tokenizer files)
becomes a :class:`HFSequenceClassifier`: ``forward(input_ids, attention_mask)`` returns logits,
like the toolkit's own :class:`~diswot.models.transformer.TransformerClassifier`, so feature
extraction, the proxies and the distillers treat both alike. The folder's tokenizer, when it has
one, tokenises the text so that teacher and students read the same token ids.

Nothing is fetched from the hub: folders are opened with ``local_files_only``. Nothing in a
folder is executed either: a folder whose ``config.json`` or ``tokenizer_config.json`` names
custom code (``auto_map``) is refused, every ``from_pretrained`` gets ``trust_remote_code=False``,
and weights load from safetensors when the folder has them, else from ``pytorch_model.bin``
with ``torch.load(weights_only=True)``, which refuses pickles that would run code.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diswot.errors import CheckpointError, DataError, DiswotError
from diswot.paths import path_exists

INSTALL_HINT = "install the optional extra: pip install 'diswot[hf]' (or pip install transformers)"


def is_hf_folder(path: str | Path) -> bool:
    """Whether ``path`` is a directory in the Hugging Face model layout."""
    p = Path(path).expanduser()
    return path_exists(p) and p.is_dir() and (p / "config.json").is_file()


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise DiswotError(f"reading a Hugging Face model folder needs transformers; {INSTALL_HINT}") from exc
    # its per-weight init warnings and loading bars drown our own messages and progress
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


#: what every ``from_pretrained`` is given: local files only, never the folder's own code
SAFE_LOADING: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
#: the folder files that may name custom code
CODE_CONFIGS = ("config.json", "tokenizer_config.json")


def refuse_custom_code(folder: Path) -> None:
    """Refuse a folder whose configs name custom code (``auto_map``, ``trust_remote_code``).

    Such code would run when the folder is loaded; ``trust_remote_code=False`` already stops
    ``transformers`` from importing it, and refusing here says so plainly before it tries.
    """
    for name in CODE_CONFIGS:
        file = folder / name
        if not file.is_file():
            continue
        try:
            content = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read {file}: {exc}") from exc
        if not isinstance(content, dict):
            raise CheckpointError(f"{file} must hold a JSON object")
        for key in ("auto_map", "trust_remote_code"):
            if key in content:
                raise CheckpointError(
                    f"{file} has {key!r}: the folder asks to run its own code, which diswot never does; "
                    "use a folder of a built-in transformers architecture (e.g. BERT) without it"
                )


class AttentionRelations(nn.Module):
    """Hands the last layer's ``(probs, values)`` to :func:`~diswot.models.features.capturing_attention`.

    Hugging Face models do not expose the value vectors, so the wrapper reads them from the last
    layer's value projection and passes both through this module, whose forward hook is where
    ``capturing_attention`` listens.
    """

    def __init__(self) -> None:
        super().__init__()
        self.keep_relations = False
        self.last_probs: torch.Tensor | None = None
        self.last_values: torch.Tensor | None = None

    def forward(self, probs: torch.Tensor, values: torch.Tensor) -> None:
        self.last_probs, self.last_values = probs, values


def _last_value_projection(model: nn.Module) -> nn.Linear | None:
    # BERT, RoBERTa, ELECTRA, MiniLM: ``attention.self.value``; DistilBERT: ``attention.v_lin``
    found = [
        m for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.endswith((".value", ".v_lin"))
    ]
    return found[-1] if found else None


class HFSequenceClassifier(nn.Module):
    """A ``transformers`` sequence classifier seen as ``(input_ids, attention_mask) -> logits``."""

    def __init__(self, hf_model: nn.Module) -> None:
        super().__init__()
        self.hf = hf_model
        config = hf_model.config
        self.max_len = int(getattr(config, "max_position_embeddings", 512) or 512)
        self.heads = int(getattr(config, "num_attention_heads", getattr(config, "n_heads", 1)))
        self.relations = AttentionRelations()
        self._values: torch.Tensor | None = None
        value = _last_value_projection(hf_model)
        if value is not None:
            value.register_forward_hook(self._keep_values)
        self.has_relations = value is not None

    def _keep_values(self, _module: nn.Module, _inputs: Any, out: torch.Tensor) -> None:
        if self.relations.keep_relations:
            n, t, inner = out.shape
            self._values = out.view(n, t, self.heads, inner // self.heads).transpose(1, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if input_ids.shape[1] > self.max_len:
            raise DataError(
                f"sequence of {input_ids.shape[1]} tokens exceeds the teacher's maximum of "
                f"{self.max_len}; truncate the text (a smaller max_len)"
            )
        want = self.relations.keep_relations and self.has_relations
        mask = None if attention_mask is None else attention_mask.long()
        out = self.hf(input_ids=input_ids, attention_mask=mask, output_attentions=want)
        if want:
            self.relations(out.attentions[-1], self._values)
            self._values = None
        return out.logits


def load_hf_classifier(
    folder: str | Path, num_classes: int | None = None
) -> tuple[HFSequenceClassifier, dict[str, str]]:
    """The model in ``folder`` with its classification head, and what was found.

    A folder holding only an encoder (no fine-tuned head) gets a freshly initialised head of
    ``num_classes`` outputs, reported as ``meta["head"] == "random-init"``; a fine-tuned head
    for another class count is an error.
    """
    transformers = _transformers()
    path = Path(folder).expanduser()
    refuse_custom_code(path)
    try:
        config = transformers.AutoConfig.from_pretrained(path, **SAFE_LOADING)
    except Exception as exc:
        raise CheckpointError(f"cannot read the Hugging Face config of {path}: {exc}") from exc
    # safetensors when present (transformers' own preference); a .bin only through the
    # restricted unpickler, which refuses anything but tensors and plain containers
    kwargs: dict[str, Any] = {**SAFE_LOADING, "attn_implementation": "eager", "weights_only": True}
    try:
        hf_model, info = transformers.AutoModelForSequenceClassification.from_pretrained(
            path, output_loading_info=True, **kwargs
        )
    except Exception as exc:
        raise CheckpointError(
            f"cannot load a sequence classifier from {path}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:300]}. Expected a BERT-family folder with config.json and weights."
        ) from exc
    missing = list(info.get("missing_keys", []))
    head_trained = not any("classifier" in k or "score" in k for k in missing)
    found = int(hf_model.config.num_labels)
    if num_classes is not None and found != num_classes:
        if head_trained:
            raise CheckpointError(
                f"{path} classifies {found} classes but the data has {num_classes}: "
                "use a teacher fine-tuned on this dataset"
            )
        config.num_labels = num_classes
        hf_model = transformers.AutoModelForSequenceClassification.from_pretrained(
            path, config=config, **kwargs
        )
    encoder_missing = [k for k in missing if "classifier" not in k and "score" not in k and "pooler" not in k]
    if encoder_missing:
        raise CheckpointError(
            f"{path} lacks {len(encoder_missing)} encoder weights (e.g. {', '.join(encoder_missing[:3])}); "
            "the folder does not hold a trained model"
        )
    meta = {"head": "trained" if head_trained else "random-init", "model_type": config.model_type}
    return HFSequenceClassifier(hf_model), meta


class HFTokenizer:
    """A folder's Hugging Face tokenizer behind the toolkit's :class:`~diswot.data.text.Tokenizer`."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer)

    def encode(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        # padding here, not in the tokenizer: its own padding to max_length is 2-3x slower
        sequences = self.tokenizer(list(texts), truncation=True, max_length=max_len)["input_ids"]
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        mask = torch.arange(max_len)[None, :] < lengths[:, None]
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(sequences), max_len), 0 if pad is None else int(pad), dtype=torch.long)
        ids[mask] = torch.tensor(list(itertools.chain.from_iterable(sequences)), dtype=torch.long)
        return ids, mask


def load_hf_tokenizer(folder: str | Path) -> HFTokenizer | None:
    """The tokenizer saved in ``folder``, or ``None`` when it has none."""
    transformers = _transformers()
    path = Path(folder).expanduser()
    names = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "vocab.json")
    if not any((path / n).is_file() for n in names):
        return None
    refuse_custom_code(path)
    try:
        return HFTokenizer(transformers.AutoTokenizer.from_pretrained(path, **SAFE_LOADING))
    except Exception as exc:
        raise CheckpointError(f"cannot load the tokenizer saved in {path}: {exc}") from exc


def teacher_tokenizer(teacher: object) -> HFTokenizer | None:
    """The tokenizer that comes with ``teacher`` when it is a Hugging Face folder, else ``None``."""
    if isinstance(teacher, (str, Path)) and is_hf_folder(teacher):
        return load_hf_tokenizer(teacher)
    return None
