"""A BERT-style Transformer encoder classifier whose every dimension is free.

The AutoDistil sub-spaces choose layers, hidden size, attention heads and FFN ratio; heads keep
BERT's 64-dimensional width, so the attention width (``heads * head_dim``) is independent of the
hidden size, as in AutoDistil / DynaBERT. Attention is written out (not fused) so the last
layer's attention distribution and values can be read for MiniLM-style relations.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from diswot.errors import DataError
from diswot.models.registry import register_model


class SelfAttention(nn.Module):
    """Multi-head self-attention with padding mask; keeps the last probs/values if asked."""

    def __init__(self, hidden: int, heads: int, head_dim: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.query = nn.Linear(hidden, inner)
        self.key = nn.Linear(hidden, inner)
        self.value = nn.Linear(hidden, inner)
        self.out = nn.Linear(inner, hidden)
        self.dropout = nn.Dropout(dropout)
        self.keep_relations = False
        self.last_probs: torch.Tensor | None = None  # (N, heads, T, T)
        self.last_values: torch.Tensor | None = None  # (N, heads, T, head_dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        return x.view(n, t, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        probs = scores.softmax(-1)
        if self.keep_relations:
            self.last_probs, self.last_values = probs, v
        context = (self.dropout(probs) @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.out(context)


class EncoderLayer(nn.Module):
    """Post-LayerNorm Transformer layer (as in BERT)."""

    def __init__(self, hidden: int, heads: int, ffn: int, head_dim: int, dropout: float) -> None:
        super().__init__()
        self.attention = SelfAttention(hidden, heads, head_dim, dropout)
        self.norm1 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.GELU(), nn.Linear(ffn, hidden))
        self.norm2 = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.attention(x, mask)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class Encoder(nn.Module):
    """A stack of layers; its output is the final hidden states ``(N, T, hidden)``."""

    def __init__(self, layers: list[EncoderLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return x


class TransformerClassifier(nn.Module):
    """Token + position embeddings, an encoder, first-token pooling and a linear classifier.

    ``forward(input_ids, attention_mask=None)``: ``input_ids`` is ``(N, T)`` int64 and
    ``attention_mask`` is ``(N, T)`` with 1 for real tokens (padding positions are ignored).
    """

    def __init__(
        self,
        vocab_size: int = 30522,
        hidden: int = 256,
        layers: int = 4,
        heads: int = 4,
        ffn: int = 1024,
        num_classes: int = 2,
        max_len: int = 128,
        head_dim: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.token_embedding = nn.Embedding(vocab_size, hidden)
        self.position_embedding = nn.Embedding(max_len, hidden)
        self.embedding_norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.encoder = Encoder([EncoderLayer(hidden, heads, ffn, head_dim, dropout) for _ in range(layers)])
        self.pooler = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh())
        self.classifier = nn.Linear(hidden, num_classes)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if input_ids.shape[1] > self.max_len:
            raise DataError(
                f"sequence of {input_ids.shape[1]} tokens exceeds the model's maximum of "
                f"{self.max_len}; truncate the text or build the model with a larger max_len"
            )
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.token_embedding(input_ids) + self.position_embedding(positions)[None]
        x = self.dropout(self.embedding_norm(x))
        mask = attention_mask.bool() if attention_mask is not None else None
        hidden = self.encoder(x, mask)
        return self.classifier(self.pooler(hidden[:, 0]))


# BERT miniatures (Turc et al., 2019): layers, hidden size, heads of width hidden/heads.
_BERT_SIZES = {
    "bert-tiny": (2, 128, 2),
    "bert-mini": (4, 256, 4),
    "bert-small": (4, 512, 8),
    "bert-medium": (8, 512, 8),
}


def _bert(layers: int, hidden: int, heads: int):
    def factory(num_classes: int = 2) -> TransformerClassifier:
        return TransformerClassifier(hidden=hidden, layers=layers, heads=heads, ffn=4 * hidden,
                                     num_classes=num_classes, head_dim=hidden // heads)  # fmt: skip

    return factory


for _name, (_layers, _hidden, _heads) in _BERT_SIZES.items():
    register_model(
        _name, f"Transformer encoder classifier, {_layers} layers, hidden {_hidden}, {_heads} heads"
    )(_bert(_layers, _hidden, _heads))
