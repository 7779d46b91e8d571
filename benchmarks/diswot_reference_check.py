"""diswot's DisWOT proxies beside re-implementations of the authors' procedures, on the same weights.

The reference side below is written from the authors' repository (lliai/DisWOT-CVPR2023),
independently of ``diswot.proxies``: their CIFAR ResNet (``models/resnet.py``,
``models/candidates/mutable/mutable_depth_resnet20.py``: ``forward(x, is_feat=True)`` returns
the list ``[f0, f1, f2, f3, pooled]`` and the logits), their losses (``distiller_zoo/ICKD.py``,
``distiller_zoo/SP.py``, both taking *lists* of tensors and zipping over them), and the three
procedures as their scripts call them:

* ``diswot`` (the README's core code): ``channel_similarity(fc.weight.grad)`` plus
  ``batch_similarity(f3)``, both called on tensors;
* ``diswot_resnet`` (``exps/parse_s1_zc.py::compute_diswot_kd_procedure``):
  ``ICKDLoss()(tout[-2], sout[-2])[0]`` -- a tensor where a list is expected, so the loss zips
  over the batch and ``[0]`` is the first image's per-channel Gram distance;
* ``diswot_nb201`` (``exps/parse_nb201_distill.py::compute_diswot_procedure``):
  ``Similarity()(tfeature[-1], sfeature[-1])[0] + ICKDLoss()([t_grad], [s_grad])[0]``, the first
  on the pooled features (again zipped over the batch).

The loop of the authors' NB201 script never zeroes the teacher's gradient and draws a new batch
per student, so its teacher term drifts with the order of the loop; the reference here zeroes
both gradients for every student, which is that script's value for its first student.

Both sides score the very networks diswot scores: each student built with its seed, then the
re-initialised copies the proxies read (``gaussian_copy`` with the scorer's seeds), whose weights
are loaded into the reference networks by position. NB201 cells are run through the project's
network (the reference reads its last map and classifier with hooks of its own). The script
reports, per proxy, the Spearman correlation of the two sides over the networks and the largest
absolute and relative differences of the values; the values equal to float32 tolerance.

Usage: OMP_NUM_THREADS=1 python benchmarks/diswot_reference_check.py [--seeds 0,1,2] [--nb201 24]
Writes benchmarks/results/diswot_reference_check.json.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

import diswot
from diswot.models.init import gaussian_copy
from diswot.proxies import Batch, ProxyScorer, TeacherContext
from diswot.proxies.scorer import TEACHER_SEED_KEY, arch_seed

HERE = Path(__file__).resolve().parent
PROXIES = ["diswot", "diswot_semantic", "diswot_relational", "diswot_resnet", "diswot_nb201", "ickd"]
NB201_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


# ---- the authors' CIFAR ResNet, rewritten from models/resnet.py (basic blocks, option-B shortcuts)
class RefBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class RefResNet(nn.Module):
    def __init__(self, depths: list[int], num_classes: int) -> None:
        super().__init__()
        widths = [16, 32, 64]
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c_in = [], 16
        for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
            blocks = []
            for j in range(depth):
                blocks.append(RefBlock(c_in, width, 2 if (i > 0 and j == 0) else 1))
                c_in = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        f0 = F.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(f0)
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        f4 = F.avg_pool2d(f3, 8).flatten(1)
        return [f0, f1, f2, f3, f4], self.fc(f4)


def load_by_position(source: nn.Module, target: nn.Module) -> nn.Module:
    """Copy ``source``'s weights and buffers into ``target`` in registration order (shapes checked)."""
    values = list(source.state_dict().values())
    keys = list(target.state_dict().keys())
    if len(values) != len(keys):
        raise SystemExit(f"{type(source).__name__} and the reference differ in layout")
    target.load_state_dict(dict(zip(keys, [v.clone() for v in values], strict=True)))
    return target


# ---- the authors' losses, rewritten from distiller_zoo/ICKD.py and distiller_zoo/SP.py
def ickd_batch_loss(f_s: torch.Tensor, f_t: torch.Tensor) -> torch.Tensor:
    bsz, ch = f_s.shape[0], f_s.shape[1]
    f_s, f_t = f_s.view(bsz, ch, -1), f_t.view(bsz, ch, -1)
    emd_s = F.normalize(torch.bmm(f_s, f_s.permute(0, 2, 1)), dim=2)
    emd_t = F.normalize(torch.bmm(f_t, f_t.permute(0, 2, 1)), dim=2)
    diff = emd_s - emd_t
    return (diff * diff).view(bsz, -1).sum() / (ch * bsz)


def ickd_loss(g_s, g_t) -> list[torch.Tensor]:  # ICKDLoss.forward: zip over what it is given
    return [ickd_batch_loss(f_s, f_t) for f_s, f_t in zip(g_s, g_t, strict=False)]


def sp_similarity_loss(f_s: torch.Tensor, f_t: torch.Tensor) -> torch.Tensor:
    bsz = f_s.shape[0]
    f_s, f_t = f_s.view(bsz, -1), f_t.view(bsz, -1)
    g_s, g_t = F.normalize(torch.mm(f_s, f_s.t())), F.normalize(torch.mm(f_t, f_t.t()))
    diff = g_t - g_s
    return (diff * diff).view(-1, 1).sum(0) / (bsz * bsz)


def sp_loss(g_s, g_t) -> list[torch.Tensor]:  # Similarity.forward: zip over what it is given
    return [sp_similarity_loss(f_s, f_t) for f_s, f_t in zip(g_s, g_t, strict=False)]


# ---- the procedures
def run_with_grad(forward, fc: nn.Linear, x: torch.Tensor, y: torch.Tensor):
    """Train-mode forward, cross-entropy backward; (features, fc weight gradient)."""
    fc.weight.grad = None
    feats, logits = forward(x)
    F.cross_entropy(logits, y).backward()
    return [f.detach() for f in feats], fc.weight.grad.detach().clone()


def reference_scores(t_feats, t_grad, s_feats, s_grad) -> dict[str, float]:
    """The authors' three procedures and their two terms, on feature lists ``[..., map, pooled]``."""
    t_map, s_map, t_pool, s_pool = t_feats[-2], s_feats[-2], t_feats[-1], s_feats[-1]
    semantic = -float(ickd_batch_loss(s_grad.view(*s_grad.shape, 1), t_grad.view(*t_grad.shape, 1)))
    relational = -float(sp_similarity_loss(s_map, t_map))
    return {
        "diswot": semantic + relational,
        "diswot_semantic": semantic,
        "diswot_relational": relational,
        "diswot_resnet": -float(ickd_loss(t_map, s_map)[0]),
        "diswot_nb201": -float(sp_loss(t_pool, s_pool)[0][0])
        - float(ickd_loss([t_grad[..., None, None]], [s_grad[..., None, None]])[0]),
    }


def hooked_side(model: nn.Module, x, y):
    """Any diswot network: the last map and pooled features read with hooks of our own."""
    model = model.train()
    grabbed: dict[str, torch.Tensor] = {}
    feature_module = dict(model.named_modules())[model.feature_map_module]
    classifier = dict(model.named_modules())[model.classifier_module]
    hooks = [
        feature_module.register_forward_hook(lambda _m, _i, out: grabbed.__setitem__("map", out)),
        classifier.register_forward_hook(lambda _m, inputs, _o: grabbed.__setitem__("pool", inputs[0])),
    ]

    def forward(inputs):
        logits = model(inputs)
        return [grabbed["map"], grabbed["pool"]], logits

    try:
        return run_with_grad(forward, classifier, x, y)
    finally:
        for h in hooks:
            h.remove()


def check(
    space_name: str, archs: list[str], teacher_name: str, num_classes: int, seeds: list[int], data, side
):
    space = diswot.get_space(space_name)
    pairs = {p: ([], []) for p in PROXIES}
    for seed in seeds:
        x, y = data.balanced_batch(64, seed=seed)
        torch.manual_seed(seed)
        teacher = diswot.build_model(teacher_name, num_classes=num_classes)
        scorer = ProxyScorer(PROXIES, Batch(x, y), TeacherContext(teacher, Batch(x, y)), seed)
        t_authors = gaussian_copy(teacher, arch_seed(seed, TEACHER_SEED_KEY))
        t_feats_a, t_grad_a = side(t_authors, teacher_name, num_classes, x, y)
        t_feats, _ = side(teacher, teacher_name, num_classes, x, y)
        for key in archs:
            arch = space.decode(key)
            ours = scorer.score_arch(space, arch, num_classes)
            torch.manual_seed(arch_seed(seed, key))
            student = space.build(arch, num_classes=num_classes)
            as_built = side(student, key, num_classes, x, y)[0]
            s_feats, s_grad = side(gaussian_copy(student, arch_seed(seed, key)), key, num_classes, x, y)
            theirs = reference_scores(t_feats_a, t_grad_a, s_feats, s_grad)
            theirs["ickd"] = -float(
                ickd_loss([as_built[-2]], [t_feats[-2]])[0]
            )  # the loss as a distiller calls it
            for p in PROXIES:
                pairs[p][0].append(ours[p].value)
                pairs[p][1].append(theirs[p])
    report = {}
    for p, (a, b) in pairs.items():
        a, b = np.asarray(a), np.asarray(b)
        report[p] = {
            "n": len(a),
            "spearman": float(stats.spearmanr(a, b).statistic),
            "max_abs_diff": float(np.abs(a - b).max()),
            "max_rel_diff": float((np.abs(a - b) / np.maximum(np.abs(b), 1e-12)).max()),
        }
        r = report[p]
        print(
            f"{space_name:<13} {p:<18} n={len(a):<4} spearman={r['spearman']:.4f} "
            f"max|diff|={r['max_abs_diff']:.2e} max rel={r['max_rel_diff']:.2e}"
        )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--nb201", type=int, default=24, help="NB201 cells sampled with seed 0")
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(HERE / "results" / "diswot_reference_check.json"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    data = diswot.load_dataset("cifar10", args.data)
    resnet_depth = [
        diswot.get_space("resnet-depth").encode(a) for a in diswot.get_space("resnet-depth").enumerate()
    ]

    def resnet_side_of(model, key, num_classes, x, y):
        depths = {"resnet110": "181818", "resnet56": "999"}.get(key, key)
        ref = load_by_position(model, RefResNet([int(c) for c in _depths(depths)], num_classes)).train()
        return run_with_grad(ref, ref.fc, x, y)

    nb201 = diswot.get_space("nb201")
    rng = random.Random(0)
    cells = []
    while len(cells) < args.nb201:  # connected cells: the authors' procedures on live networks
        arch = nb201.sample(rng)
        if nb201.invalid_reason(arch) is None:
            cells.append(nb201.encode(arch))
    best_cell = "nb201:" + NB201_BEST
    report = {
        "batch": "64 CIFAR-10 training images, class-balanced, seed = proxy seed (resnet-depth: 100 classes)",
        "seeds": seeds,
        "resnet-depth (teacher resnet110)": check(
            "resnet-depth", resnet_depth, "resnet110", 100, seeds, data, resnet_side_of
        ),
        "nb201 (teacher: NB201's best CIFAR-10 cell)": check(
            "nb201", cells, best_cell, 10, seeds, data, lambda m, _k, _c, x, y: hooked_side(m, x, y)
        ),
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


def _depths(text: str) -> list[int]:
    """'181818' -> [18, 18, 18]; '153' -> [1, 5, 3]."""
    return [int(text[i : i + 2]) for i in range(0, 6, 2)] if len(text) == 6 else [int(c) for c in text]


if __name__ == "__main__":
    main()
