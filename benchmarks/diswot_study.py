"""Which DisWOT form ranks distilled accuracy: the study of issue 22, on DisWOT's public table.

Scores the 64 ``resnet-depth`` students of ``benchmarks/ground_truth/diswot_resnet_depth_cifar100.csv``
(DisWOT's CIFAR-100 table; the shared CIFAR-10 images stand in for CIFAR-100) with every DisWOT
form and the baselines, through the project's own scoring job, under the settings the study
varies one at a time from a base setting (random ResNet-110 teacher, 64 images, one batch,
100-class heads as in the authors' table, the last feature map):

* ``teacher``: random ResNet-110 / ResNet-56 (the authors re-initialise either), or a trained
  ResNet-56 checkpoint (``--trained-teacher``; 10-class heads, the ``_trained`` forms keep it);
* ``init``: the authors' N(0,1) re-initialisation against the models' own (study-only ``*_as_built``
  twins of the DisWOT forms, registered below);
* ``layer``: the output of stage 1, 2 or 3 (the last) as the feature map;
* ``batch``: 16, 64, 128 or 256 images; ``batches``: 1, 2 or 4 of 64 (scores averaged);
* ``head``: 100 or 10 classes;

each over ``--seeds`` proxy seeds (batch, random teacher and every initialisation follow it).
Scores go to ``scores.csv`` (setting, seed, arch, proxy, value; a rerun scores only what is
missing). The analysis then gives, per setting and proxy, the mean and spread over seeds of
Spearman, Kendall, within-FLOPs-band Kendall (4 bands), top-1 regret, partial Spearman with
log-params held fixed and Spearman with the distillation gain (KD - vanilla); and it chooses a
fitness on one random half of the students (candidates: single proxies and calibrated mean
aggregates of up to three, whose quantiles are taken against all 64 students, the space itself)
and reports it on the other half with paired bootstrap intervals.

Usage:
  OMP_NUM_THREADS=1 python benchmarks/diswot_study.py --data ../shared/data \\
      [--trained-teacher teacher.pt] [--seeds 0,1,2] [--only base,teacher] [--analyse-only]
Writes benchmarks/results/diswot_study/{scores.csv,summary.csv,selection.json}.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm import tqdm

import diswot
from diswot.bench.metrics import ProtocolConfig, budget_bands, partial_spearman, protocol_report
from diswot.models import load_teacher
from diswot.proxies import Batch, TeacherContext, register_proxy
from diswot.proxies import diswot_proxies as forms
from diswot.scoring.executors import ScoringJob
from diswot.search_spaces.resnet import ResNetDepthSpace

HERE = Path(__file__).resolve().parent
TABLE = HERE / "ground_truth" / "diswot_resnet_depth_cifar100.csv"
OUT = HERE / "results" / "diswot_study"

AUTHORS = [
    "diswot",
    "diswot_semantic",
    "diswot_relational",
    "diswot_resnet",
    "diswot_nb201",
    "diswot_map",
    "diswot_class",
]
TRAINED = [f"{p}_trained" for p in AUTHORS]
KD_PROXIES = ["kd", "sp", "ickd", "at", "rkd", "fitnet"]  # distillation losses on the networks as built
FREE = [
    "params",
    "flops",
    "snip",
    "grad_norm",
    "synflow",
    "nwot",
    "zico",
    "az_expressivity",
    "az_progressivity",
    "az_trainability",
]
AS_BUILT = {  # study-only twins: the DisWOT forms on the models' own initialisation
    "diswot_semantic_as_built": forms.semantic,
    "diswot_resnet_as_built": forms.first_image_map,
    "diswot_map_as_built": forms.unpaired_map,
    "diswot_class_as_built": forms.class_semantic,
}
for _name, _score in AS_BUILT.items():
    register_proxy(_name, needs=("forward",), teacher=True, formula="study only")(
        lambda probe, _s=_score, _n=_name: _s(probe, _n)
    )


@dataclass(frozen=True)
class Setting:
    name: str
    teacher: str = "resnet110"
    head: int = 100
    batch: int = 64
    batches: int = 1
    layer: str = "stages"  # the module whose output is the feature map (ResNet: stages.0 .. stages.2)
    proxies: tuple[str, ...] = tuple(AUTHORS)


def settings(trained: str | None) -> list[Setting]:
    base = Setting("base", proxies=tuple(AUTHORS + list(AS_BUILT) + KD_PROXIES + FREE))
    dis = tuple(AUTHORS)
    rows = [
        base,
        replace(
            base,
            name="teacher:resnet56",
            teacher="resnet56",
            proxies=dis + tuple(AS_BUILT) + tuple(KD_PROXIES),
        ),
    ]
    rows += [
        replace(base, name=f"layer:{i + 1}", layer=f"stages.{i}", proxies=("diswot_relational", "diswot_map"))
        for i in (0, 1)
    ]
    rows += [replace(base, name=f"batch:{b}", batch=b, proxies=dis) for b in (16, 128, 256)]
    rows += [replace(base, name=f"batches:{n}", batches=n, proxies=dis) for n in (2, 4)]
    rows += [replace(base, name="head:10", head=10, proxies=(*dis, "params", "snip", "grad_norm", "synflow"))]
    if trained:
        rows += [
            Setting(
                "teacher:trained", teacher=trained, head=10, proxies=tuple(TRAINED + KD_PROXIES + AUTHORS)
            )
        ]
    return rows


class LayerSpace(ResNetDepthSpace):
    """resnet-depth whose networks expose another stage's output as their feature map."""

    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer

    def build(self, arch, num_classes: int = 10):
        model = super().build(arch, num_classes)
        model.feature_map_module = self.layer
        return model


def score_setting(setting: Setting, seed: int, data, archs: list[str]) -> Iterator[dict]:
    space = LayerSpace(setting.layer)
    batches = [Batch(*data.balanced_batch(setting.batch, seed=seed + i)) for i in range(setting.batches)]
    torch.manual_seed(seed)
    teacher = load_teacher(setting.teacher, num_classes=setting.head, seed=seed)
    teacher.model.feature_map_module = setting.layer
    contexts = [TeacherContext(teacher.model, b, pretrained=teacher.pretrained) for b in batches]
    job = ScoringJob(space, list(setting.proxies), batches, contexts, setting.head, seed)
    for arch, scores in zip(archs, job.score(archs), strict=True):
        for proxy, (value, ms) in scores.items():
            yield {
                "setting": setting.name,
                "seed": seed,
                "arch": arch,
                "proxy": proxy,
                "value": value,
                "ms": ms,
            }


def run_scoring(all_settings: list[Setting], seeds: list[int], data, out: Path) -> pd.DataFrame:
    archs = sorted(pd.read_csv(TABLE, dtype={"arch": str}).arch)
    path = out / "scores.csv"
    done = pd.read_csv(path, dtype={"arch": str}) if path.exists() else pd.DataFrame()
    have = set() if done.empty else set(zip(done.setting, done.seed, done.proxy, strict=True))
    for setting, seed in tqdm(list(itertools.product(all_settings, seeds)), desc="settings x seeds"):
        wanted = tuple(p for p in setting.proxies if (setting.name, seed, p) not in have)
        if not wanted:
            continue
        rows = pd.DataFrame(score_setting(replace(setting, proxies=wanted), seed, data, archs))
        done = pd.concat([done, rows], ignore_index=True)
        tmp = path.with_suffix(".tmp")
        done.to_csv(tmp, index=False)
        tmp.replace(path)  # each finished setting survives an interruption
    return done


# ---- analysis -----------------------------------------------------------------------------------
def table() -> pd.DataFrame:
    space = diswot.get_space("resnet-depth")
    truth = pd.read_csv(TABLE, dtype={"arch": str}).set_index("arch").sort_index()
    cost = [space.cost(space.decode(a)) for a in truth.index]
    truth["params"], truth["flops"] = [c.params for c in cost], [c.flops for c in cost]
    truth["gain"] = truth.kd_accuracy - truth.vanilla_accuracy
    return truth


def metrics(values: np.ndarray, truth: pd.DataFrame) -> dict[str, float]:
    kd = truth.kd_accuracy.to_numpy()
    report = protocol_report(
        {"x": values},
        {"kd": kd},
        truth.flops.to_numpy(),
        truth.params.to_numpy(),
        ProtocolConfig(resamples=0),
    ).iloc[0]
    return {
        "spearman": report.spearman,
        "kendall": report.kendall,
        "within_band_tau": report.within_budget_kendall,
        "top1_regret": report.top1_regret,
        "partial_spearman": report.partial_spearman,
        "gain_spearman": stats.spearmanr(values, truth.gain).statistic,
    }


def summary(scores: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (setting, proxy), group in scores.groupby(["setting", "proxy"]):
        per_seed = [
            metrics(g.set_index("arch").value.reindex(truth.index).to_numpy(), truth)
            for _, g in group.groupby("seed")
        ]
        frame = pd.DataFrame(per_seed)
        row = {"setting": setting, "proxy": proxy, "seeds": len(per_seed)}
        for column in frame:
            row[column], row[f"{column}_sd"] = frame[column].mean(), frame[column].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["setting", "spearman"], ascending=[True, False])


def quantiles(values: np.ndarray) -> np.ndarray:
    """Each value's calibrated quantile among all 64 students: with the space as the reference,
    ``cal:``'s quantile is the rank / (n + 1)."""
    return stats.rankdata(values) / (len(values) + 1)


def _frame(scores: pd.DataFrame, setting: str, borrow: str | None) -> pd.DataFrame:
    """(seed, arch) x proxy scores of ``setting``; teacher-free members missing from it are taken
    from ``borrow`` (same batch and head)."""
    frame = scores[scores.setting == setting].pivot_table(
        index=["seed", "arch"], columns="proxy", values="value"
    )
    if borrow is not None:
        donor = scores[scores.setting == borrow].pivot_table(
            index=["seed", "arch"], columns="proxy", values="value"
        )
        frame = frame.join(donor[[c for c in donor if c in FREE and c not in frame]], how="inner")
    return frame


def _fitness(frame: pd.DataFrame, truth: pd.DataFrame, members: tuple[str, ...], seed: int) -> pd.Series:
    """The calibrated mean aggregate of ``members`` (one member: its quantiles, same ranking)."""
    values = frame.loc[seed].reindex(truth.index)
    return pd.Series(np.mean([quantiles(values[m].to_numpy()) for m in members], axis=0), index=truth.index)


def _judge(frame: pd.DataFrame, truth: pd.DataFrame, pool: list[str], half: pd.DataFrame) -> list[tuple]:
    """Every single proxy and calibrated aggregate of two or three from ``pool``, ranked on ``half`` by
    within-band tau, then Spearman (means over proxy seeds)."""
    pool = [p for p in pool if p in frame]
    candidates = [(p,) for p in pool] + [c for k in (2, 3) for c in itertools.combinations(pool, k)]
    seeds = sorted(frame.index.get_level_values(0).unique())
    judged = []
    for members in candidates:
        m = [metrics(_fitness(frame, truth, members, s).loc[half.index].to_numpy(), half) for s in seeds]
        judged.append(
            (np.mean([x["within_band_tau"] for x in m]), np.mean([x["spearman"] for x in m]), members)
        )
    judged.sort(reverse=True)
    return judged


def _halves(truth: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    half = set(np.random.default_rng(seed).permutation(truth.index)[: len(truth) // 2])
    return truth[truth.index.isin(half)], truth[~truth.index.isin(half)]


def select(
    scores: pd.DataFrame,
    truth: pd.DataFrame,
    setting: str,
    pool: list[str],
    borrow: str | None = None,
    seed: int = 0,
) -> dict:
    """Choose a fitness on one half of the students (within-band tau, then Spearman), report it on the
    other with bootstrap intervals, beside ``params`` and the DisWOT forms."""
    frame = _frame(scores, setting, borrow)
    choose, report = _halves(truth, seed)
    judged = _judge(frame, truth, pool, choose)
    best = judged[0][2]
    seeds = sorted(frame.index.get_level_values(0).unique())
    held_out = {}
    for members in {best, ("params",), *[(p,) for p in pool if p.startswith("diswot")]}:
        if all(m in frame for m in members):
            values = [_fitness(frame, truth, members, s).loc[report.index].to_numpy() for s in seeds]
            held_out["+".join(members)] = _with_intervals(values, report)
    return {
        "setting": setting,
        "chosen": "cal:" + "+".join(best) if len(best) > 1 else best[0],
        "choice_half_top5": [("+".join(j[2]), round(j[0], 3), round(j[1], 3)) for j in judged[:5]],
        "held_out_half": held_out,
    }


def split_check(
    scores: pd.DataFrame,
    truth: pd.DataFrame,
    setting: str,
    pool: list[str],
    splits: int,
    borrow: str | None = None,
) -> dict:
    """The selection procedure itself, judged: over ``splits`` random halvings, what it chooses on one
    half and how its choice does on the other against ``params`` (within-band tau and Spearman)."""
    frame = _frame(scores, setting, borrow)
    seeds = sorted(frame.index.get_level_values(0).unique())
    rows = []
    for split in tqdm(range(splits), desc=f"splits {setting}", leave=False):
        choose, report = _halves(truth, 1000 + split)
        best = _judge(frame, truth, pool, choose)[0][2]
        row = {"split": split, "chosen": "+".join(best)}
        for label, members in (("chosen", best), ("params", ("params",))):
            m = [
                metrics(_fitness(frame, truth, members, s).loc[report.index].to_numpy(), report)
                for s in seeds
            ]
            row[f"{label}_tau"] = float(np.mean([x["within_band_tau"] for x in m]))
            row[f"{label}_rho"] = float(np.mean([x["spearman"] for x in m]))
        rows.append(row)
    table_ = pd.DataFrame(rows)
    return {
        "setting": setting,
        "splits": splits,
        "chosen_counts": table_.chosen.value_counts().to_dict(),
        "held_out_mean": {
            c: float(table_[c].mean()) for c in ("chosen_tau", "params_tau", "chosen_rho", "params_rho")
        },
        "chosen_beats_params_tau": float((table_.chosen_tau > table_.params_tau).mean()),
        "chosen_beats_params_rho": float((table_.chosen_rho > table_.params_rho).mean()),
    }


def _with_intervals(per_seed: list[np.ndarray], truth: pd.DataFrame) -> dict[str, float]:
    """Mean over seeds of each metric, and a 95% bootstrap interval of its Spearman and within-band tau
    (students resampled, the same resamples for every candidate)."""
    out = {k: float(np.mean([metrics(v, truth)[k] for v in per_seed])) for k in metrics(per_seed[0], truth)}
    rng = np.random.default_rng(0)
    bands = budget_bands(truth.flops.to_numpy(), 4)
    samples = {"spearman": [], "within_band_tau": []}
    for _ in range(1000):
        i = rng.integers(0, len(truth), len(truth))
        sub = truth.iloc[i]
        rho = np.mean([stats.spearmanr(v[i], sub.kd_accuracy).statistic for v in per_seed])
        taus = []
        for v in per_seed:
            per_band = [
                stats.kendalltau(v[i][bands[i] == b], sub.kd_accuracy.to_numpy()[bands[i] == b]).statistic
                for b in range(4)
                if (bands[i] == b).sum() > 1
            ]
            taus.append(np.nanmean(per_band))
        samples["spearman"].append(rho)
        samples["within_band_tau"].append(np.mean(taus))
    for k, v in samples.items():
        out[f"{k}_lo"], out[f"{k}_hi"] = (float(x) for x in np.nanpercentile(v, [2.5, 97.5]))
    out["partial_spearman_check"] = float(
        np.mean(
            [
                partial_spearman(v, truth.kd_accuracy.to_numpy(), np.log(truth.params.to_numpy()))
                for v in per_seed
            ]
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--trained-teacher", default=None, help="a trained ResNet-56 checkpoint (10 classes)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", default=None, help="comma list of setting names (or prefixes) to score")
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument(
        "--splits", type=int, default=20, help="random halvings that judge the selection itself"
    )
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = settings(args.trained_teacher)
    if args.only:
        prefixes = args.only.split(",")
        chosen = [s for s in chosen if any(s.name.startswith(p) for p in prefixes)]
    if args.analyse_only:
        scores = pd.read_csv(out / "scores.csv", dtype={"arch": str})
    else:
        scores = run_scoring(
            chosen, [int(s) for s in args.seeds.split(",")], diswot.load_dataset("cifar10", args.data), out
        )
    truth = table()
    result = summary(scores, truth)
    result.to_csv(out / "summary.csv", index=False, float_format="%.4f")
    pd.set_option("display.width", 200)
    print(
        result[
            [
                "setting",
                "proxy",
                "seeds",
                "spearman",
                "spearman_sd",
                "within_band_tau",
                "top1_regret",
                "partial_spearman",
                "gain_spearman",
            ]
        ].to_string(index=False, float_format="%.3f")
    )
    pool = [
        "diswot",
        "diswot_resnet",
        "diswot_map",
        "diswot_semantic",
        "diswot_relational",
        "params",
        "flops",
        "snip",
        "grad_norm",
        "synflow",
        "az_progressivity",
        "nwot",
        "zico",
        "kd",
    ]
    selections = [select(scores, truth, s, pool) for s in ("base",) if s in set(scores.setting)]
    if "teacher:trained" in set(scores.setting):
        trained_pool = [*TRAINED, "kd", "sp", "ickd", "params", "snip", "grad_norm", "synflow"]
        selections.append(select(scores, truth, "teacher:trained", trained_pool, borrow="head:10"))
    checks = [split_check(scores, truth, "base", pool, args.splits)] if "base" in set(scores.setting) else []
    if "teacher:trained" in set(scores.setting):
        checks.append(
            split_check(scores, truth, "teacher:trained", trained_pool, args.splits, borrow="head:10")
        )
    for selection, check in zip(selections, checks, strict=True):
        selection["split_check"] = check
    (out / "selection.json").write_text(json.dumps(selections, indent=2, default=float) + "\n")
    print(json.dumps(selections, indent=2, default=float))


if __name__ == "__main__":
    main()
