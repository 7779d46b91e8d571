"""The ``diswot`` command line.

Errors caused by input (unknown names, malformed architectures, bad files) print one line
naming the problem and the fix, and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Callable, Sequence

from diswot.errors import DataError, DiswotError


def _registries() -> dict[str, Callable[[], list[tuple[str, str]]]]:
    from diswot.data.readers import DATASETS
    from diswot.distill import DISTILLERS
    from diswot.distill.transfer import SELECTIONS
    from diswot.models import MODELS
    from diswot.proxies import PROXIES
    from diswot.scoring import EXECUTORS
    from diswot.search import STRATEGIES
    from diswot.search_spaces import SPACES

    def rows(registry: object) -> Callable[[], list[tuple[str, str]]]:
        return lambda: [(e.name, e.summary) for e in registry.entries()]  # type: ignore[attr-defined]

    return {
        "spaces": rows(SPACES),
        "models": rows(MODELS),
        "datasets": rows(DATASETS),
        "proxies": rows(PROXIES),
        "strategies": rows(STRATEGIES),
        "executors": rows(EXECUTORS),
        "distillers": rows(DISTILLERS),
        "selections": rows(SELECTIONS),
    }


def cmd_list(args: argparse.Namespace) -> int:
    for name, summary in _registries()[args.kind]():
        print(f"{name:<20} {summary}")
    return 0


def _format_count(n: float) -> str:
    from diswot.scoring.budget import format_quantity

    return format_quantity(n)


def cmd_cost(args: argparse.Namespace) -> int:
    from diswot.search_spaces import get_space

    space = get_space(args.space)
    rows = []
    for key in args.arch:
        arch = space.decode(key)
        cost = space.cost(arch)
        rows.append({"arch": space.encode(arch), **cost.to_dict()})
    _print_rows(rows, args.json)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Sample architectures, build them and run them on a real labelled batch."""
    import torch

    from diswot.data import load_dataset
    from diswot.models import FeatureExtractor
    from diswot.search_spaces import get_space

    space = get_space(args.space)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    data = None
    if space.input_kind == "images":  # token spaces are sampled and costed without data
        data = load_dataset(args.dataset, args.data_root, download=args.download)
        images, labels = data.balanced_batch(args.batch_size, seed=args.seed)
    rows = []
    for _ in range(args.num):
        arch = space.sample(rng)
        cost = space.cost(arch)
        row = {"arch": space.encode(arch), "params": cost.params, "flops": cost.flops}
        if data is not None:
            model = space.build(arch, num_classes=data.num_classes)
            with torch.no_grad():
                features = FeatureExtractor(model)(images)
            loss = torch.nn.functional.cross_entropy(features.logits, labels)
            row["feature_map"] = "x".join(str(d) for d in features.feature_map.shape[1:])
            row["init_loss"] = round(float(loss), 4)
        rows.append(row)
    _print_rows(rows, args.json)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (a positive number), got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds (a positive number), got {text!r}")
    return value


def _seed(text: str) -> int:
    from diswot.seeds import SEED_RANGE

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not SEED_RANGE[0] <= value <= SEED_RANGE[1]:
        raise argparse.ArgumentTypeError(f"a seed must be between 0 and 2**32-1, got {text}")
    return value


def _registered(registry) -> Callable[[str], str]:
    """An argparse type taking the names of ``registry`` (its did-you-mean message otherwise): the
    registry is the list of choices, so a plug-in registered later is a valid value too."""

    def parse(text: str) -> str:
        try:
            registry.get(text)
        except DiswotError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text.lower()

    return parse


def _dataset_spec(text: str) -> str:
    """A registered dataset name, with its ``:classes=...`` option if any (``cifar10:classes=0-4``)."""
    from diswot.data.readers import DATASETS, split_dataset_spec

    name, sep, options = text.partition(":")
    try:
        split_dataset_spec(text)
    except DiswotError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return _registered(DATASETS)(name) + sep + options


def _names(registry) -> str:
    return "{" + ",".join(registry.names()) + "}"


def _num_archs(text: str) -> int | None:
    return None if text.lower() == "all" else _positive_int(text)


def cmd_bench_proxies(args: argparse.Namespace) -> int:
    from diswot.bench.metrics import ProtocolConfig
    from diswot.bench.proxy_bench import ProxyBenchConfig, format_table, run_proxy_bench
    from diswot.scoring import Budget

    budget = Budget.parse(
        max_flops=args.max_flops, min_flops=args.min_flops, max_params=args.max_params,
        min_params=args.min_params,
    )  # fmt: skip
    protocol = ProtocolConfig(
        budget_bands=args.budget_bands, top_k=args.top_k, resamples=args.bootstrap, seed=args.seed
    )
    cfg = ProxyBenchConfig(
        space=args.space,
        ground_truth=args.ground_truth,
        proxies=[p for p in args.proxies.split(",") if p.strip()],
        out=args.out,
        scoring=_scoring_config(args),
        gt_columns=args.gt_column or None,
        num_archs=args.num_archs,
        seed=args.seed,
        plots=not args.no_plots,
        protocol=protocol,
        budget=budget,
        seed_columns=None if args.seed_columns is None else [c for c in args.seed_columns.split(",") if c],
        gain_column=args.gain_column,
    )
    report = run_proxy_bench(cfg)
    print(format_table(report))
    skipped = report["skipped_without_ground_truth"]
    note = f"; {skipped} sampled archs had no ground truth and were skipped" if skipped else ""
    if report["outside_budget"]:
        note += f"; {report['outside_budget']} outside the budget were left out"
    reused = report["cache_hits"]
    print(f"{report['num_archs']} archs, {reused} cached scores reused{note}; results in {args.out}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from diswot.scoring import Budget
    from diswot.search import SearchConfig, StrategyParams, search

    budget = Budget.parse(
        max_flops=args.max_flops, min_flops=args.min_flops, max_params=args.max_params,
        min_params=args.min_params, max_latency_ms=args.max_latency_ms, min_latency_ms=args.min_latency_ms,
    )  # fmt: skip
    params = StrategyParams(
        population=args.population, tournament=args.tournament, proposals_per_step=args.proposals_per_step
    )
    config = SearchConfig(
        args.space, proxy=args.proxy, budget=budget, strategy=args.strategy, scoring=_scoring_config(args),
        evaluations=args.evaluations, time_budget_s=args.time_budget, seed=args.seed, params=params,
        objective=args.objective, record=[p for p in args.record.split(",") if p.strip()],
        executor=args.executor, workers=args.workers, address=args.address, out=args.out, resume=args.resume,
        ground_truth=args.ground_truth, gt_column=args.gt_column, top_k=args.top_k, plots=not args.no_plots,
    )  # fmt: skip
    result = search(config=config)
    truth = "" if result.true_accuracy is None else f"  true accuracy {result.true_accuracy:.2f}"
    if len(result.teachers) > 1:
        listed = ", ".join(f"{t['teacher']} ({t['weight']:.3g})" for t in result.teachers)
        truth += f"\n  against the teachers {listed}"
    print(
        f"best {result.proxy}={result.score:.6g}  {result.arch}\n"
        f"  params={_format_count(result.params)}  flops={_format_count(result.flops)}{truth}\n"
        f"{result.evaluations} archs scored ({result.cache_hits} from the store, {result.duplicates} "
        f"revisits and {result.isomorphic_duplicates} equivalent archs reused) in {result.wall_s:.1f} s; "
        f"results in {args.out}"
    )
    return 0


def _recipe(args: argparse.Namespace):
    from diswot.distill import Recipe

    return Recipe(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        optimizer=args.optimizer,
        schedule=args.schedule, seed=args.seed, ce_weight=getattr(args, "ce_weight", 1.0),
        label_smoothing=getattr(args, "label_smoothing", 0.0),
        channels_last=not args.no_channels_last, precision=args.precision, compile=args.compile,
        eval_every=args.eval_every,
    )  # fmt: skip


def _add_scoring_args(p: argparse.ArgumentParser, store_default: str) -> None:
    """The flags of a :class:`~diswot.scoring.config.ScoringConfig` (read back by
    :func:`_scoring_config`): what every proxy score of ``search`` and ``bench proxies`` depends on."""
    from diswot.scoring.config import DEFAULT_REFERENCE_SIZE

    _add_teacher_args(p, several="score")
    _add_data_args(p)
    p.add_argument("--batch-size", type=_positive_int, default=64, help="images (or texts) per scoring batch")
    p.add_argument(
        "--num-batches", type=_positive_int, default=1, help="scoring batches; scores are their mean"
    )
    p.add_argument(
        "--proxy-seed", type=_seed, default=None,
        help="seed of the scoring batches, a random teacher and candidate init (default: --seed)",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    p.add_argument(
        "--reference-size", type=_positive_int, default=DEFAULT_REFERENCE_SIZE,
        help="archs sampled (fixed seed, any budget) to calibrate a cal: aggregate; scored once per "
        f"store (default {DEFAULT_REFERENCE_SIZE})",
    )  # fmt: skip
    p.add_argument(
        "--store",
        default=None,
        help=f"SQLite store of scores to share between runs (default {store_default})",
    )


def _scoring_config(args: argparse.Namespace):
    """The :class:`~diswot.scoring.config.ScoringConfig` of :func:`_add_scoring_args`' flags."""
    from diswot.scoring import ScoringConfig

    return ScoringConfig(
        data=args.dataset, data_root=args.data_root, teacher=_teacher_set(args.teacher),
        teacher_model=args.teacher_model, batch_size=args.batch_size, num_batches=args.num_batches,
        proxy_seed=args.proxy_seed, device=args.device, reference_size=args.reference_size, store=args.store,
    )  # fmt: skip


def _add_data_args(p: argparse.ArgumentParser, note: str = "") -> None:
    from diswot.data.readers import DATASETS

    p.add_argument(
        "--dataset", default=None, type=_dataset_spec, metavar=_names(DATASETS),
        help=f"dataset name (default: the one --data-root holds, else the embedded sample{note})",
    )  # fmt: skip
    p.add_argument("--data-root", default=None, help="folder holding the dataset")


def _resolve_dataset(args: argparse.Namespace) -> None:
    """``--dataset`` made concrete: given, or inferred from ``--data-root``'s layout (said on
    stderr), or the embedded sample without a root; a root of unknown layout is refused."""
    if not hasattr(args, "dataset") or args.dataset is not None:
        return
    if getattr(args, "data_root", None) is None:
        args.dataset = "sample"
        return
    from diswot.data.readers import infer_dataset

    inferred = infer_dataset(args.data_root)
    if inferred is None:
        raise DataError(
            f"--data-root {args.data_root} needs --dataset naming what it holds (diswot list datasets); "
            "only the CIFAR python folders are recognised by themselves"
        )
    print(f"diswot {args.command}: --data-root {args.data_root} holds {inferred}: using --dataset {inferred}",
          file=sys.stderr)  # fmt: skip
    args.dataset = inferred


def _teacher_set(values: list[str] | None):
    """Repeated ``--teacher SPEC[:WEIGHT]``: ``None`` (the default teacher), one spec, or
    ``[(spec, weight)]`` for a set of two or more."""
    from diswot.models.teachers import parse_teacher_args

    if not values:
        return None
    pairs = parse_teacher_args(values)
    return pairs[0][0] if len(pairs) == 1 else pairs


#: what a teacher set means, per command that takes one
_SET_MEANING = {
    "score": "a teacher-aware proxy scores the student against each and takes the weighted sum; "
    "the store keys scores by the whole set",
    "distill": "every distiller term is applied per teacher with its weight",
}


def _add_teacher_args(p: argparse.ArgumentParser, required: bool = False, several: str | None = None) -> None:
    """``--teacher`` (repeatable with weights when ``several`` names what a set means there)."""
    from diswot.scoring.setup import DEFAULT_TEACHER

    default = "" if required else f" (default: {DEFAULT_TEACHER} for images; text needs one)"
    if several:
        p.add_argument(
            "--teacher", action="append", default=None, required=required,
            help="checkpoint file, Hugging Face folder, or model name (random init), optionally "
            "SPEC:WEIGHT; repeat for a teacher set (weights default to 1 and are normalised to sum 1; "
            f"{_SET_MEANING[several]}){default}",
        )  # fmt: skip
    else:
        p.add_argument(
            "--teacher", default=None, required=required,
            help=f"checkpoint file, Hugging Face folder, or model name (random init){default}",
        )  # fmt: skip
    p.add_argument("--teacher-model", default=None, help="architecture of a bare state_dict teacher")


def _add_recipe_args(p: argparse.ArgumentParser, epochs: int) -> None:
    _add_data_args(p, ", 20%% held out")
    p.add_argument("--train-subset", type=_positive_int, default=None, help="class-balanced training images")
    p.add_argument("--epochs", type=_positive_int, default=epochs)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="for batch 128; scaled linearly with the batch")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument(
        "--optimizer",
        default="sgd",
        choices=["sgd", "adamw"],
        help="sgd (the CNN recipe) or adamw (Transformers: --lr 5e-4 --weight-decay 0.01)",
    )
    p.add_argument("--schedule", default="cosine", choices=["cosine", "step"])
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="autocast precision (auto: bf16 on CUDA, fp32 on CPU)")  # fmt: skip
    p.add_argument("--compile", action="store_true", help="torch.compile the students (pays on GPUs)")
    p.add_argument("--eval-every", type=_positive_int, default=1,
                   help="test accuracy every K epochs (the last epoch always)")  # fmt: skip
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--resume", action="store_true", help="continue from the last epoch checkpoint")


def cmd_train_teacher(args: argparse.Namespace) -> int:
    from diswot.distill import train_teacher

    summary = train_teacher(
        args.model, args.out, dataset=args.dataset, data_root=args.data_root, recipe=_recipe(args),
        resume=args.resume, device=args.device, train_subset=args.train_subset,
        distill_from=args.distill_from, distillers=args.distiller,
    )  # fmt: skip
    print(f"{args.model}: test top-1 {summary['test_accuracy']:.2f}% after {summary['epochs']} epochs "
          f"({summary['wall_s']:.0f} s); checkpoint {args.out}")  # fmt: skip
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    from diswot.distill import distill, student_specs
    from diswot.distill.transfer import TransferConfig

    if args.transfer is None and (args.transfer_only or args.transfer_root):
        raise DiswotError("--transfer-only and --transfer-root need --transfer DATASET")
    transfer = None
    if args.transfer is not None:
        transfer = TransferConfig(args.transfer, args.transfer_root or args.data_root, args.select, args.keep,
                                  args.transfer_only)  # fmt: skip
    specs = [s for text in args.student for s in student_specs(text, args.top_k)]
    summaries = distill(
        args.teacher, specs, args.distiller, dataset=args.dataset, data_root=args.data_root,
        recipe=_recipe(args), out=args.out, resume=args.resume, device=args.device,
        train_subset=args.train_subset, teacher_model=args.teacher_model, export=args.export,
        transfer=transfer,
    )  # fmt: skip
    for s in summaries:
        size = f"params={_format_count(s['params'])}, flops={_format_count(s['flops'])}"
        accuracy = f"test top-1 {s['test_accuracy']:.2f}%"
        print(f"{s['model']}: {accuracy} with {s['distillers']} ({size}, {s['wall_s']:.0f} s)")
        if "export" in s:
            print(f"  exported to {s['export']}")
    print(f"results in {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from diswot.export import export

    report = export(args.source, args.out, rank=args.rank, num_classes=args.num_classes,
                    onnx=not args.no_onnx, overwrite=args.overwrite)  # fmt: skip
    card = report.card
    written = ", ".join(str(p) for p in (report.program, report.onnx) if p is not None)
    print(f"{card['model']} ({card['weights']}, params={_format_count(card['params'])}, "
          f"flops={_format_count(card['flops'])}): {written} and {args.out}/card.json; "
          f"outputs equal diswot's to {card['check']['pt2_max_abs_diff']:.1e}")  # fmt: skip
    if card.get("onnx_note"):
        print(card["onnx_note"])
    return 0


def _int_list(what: str, item: Callable[[str], int]) -> Callable[[str], list[int]]:
    """An argparse type for a comma list of ``what`` (seeds, GPU indices), each read by ``item``."""

    def parse(text: str) -> list[int]:
        try:
            values = [item(part) for part in text.split(",") if part.strip()]
        except (ValueError, argparse.ArgumentTypeError):
            message = f"{text!r} is not a comma list of integers ({what}), e.g. 0,1"
            raise argparse.ArgumentTypeError(message) from None
        if not values:
            raise argparse.ArgumentTypeError(f"give at least one of the {what}, e.g. 0,1")
        return values

    return parse


def _gpu_index(text: str) -> int:
    index = int(text)
    if index < 0:
        raise ValueError(text)
    return index


_seed_list = _int_list("seeds", lambda text: _seed(text))
_gpu_list = _int_list("GPU indices, >= 0", _gpu_index)


def cmd_bench_kd_ground_truth(args: argparse.Namespace) -> int:
    from diswot.bench.kd_ground_truth import GroundTruthConfig, kd_ground_truth, parse_archs

    cfg = GroundTruthConfig(
        space=args.space, teacher=args.teacher, out=args.out,
        archs=parse_archs(args.archs) if args.archs else None, all_archs=args.all,
        num_archs=args.num_archs, sample_seed=args.seed, seeds=args.seeds or [args.seed],
        distillers=args.distiller, vanilla=args.vanilla, recipe=_recipe(args), dataset=args.dataset,
        data_root=args.data_root, train_subset=args.train_subset, group_size=args.group_size,
        device=args.device, workers=args.workers, gpus=args.gpus,
    )  # fmt: skip
    table = kd_ground_truth(cfg)
    print(f"{len(table)} architectures x {len(cfg.seeds)} seed(s) in {args.out}")
    return 0


def _print_rows(rows: list[dict[str, object]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        parts = [f"{k}={_format_count(v) if k in ('params', 'flops') else v}" for k, v in row.items()]
        print("  ".join(parts))


def build_parser() -> argparse.ArgumentParser:
    from diswot.scoring import EXECUTORS
    from diswot.scoring.setup import AUTO, AUTO_FITNESS, NB201_FITNESS, TEXT_FITNESS
    from diswot.search import STRATEGIES

    parser = argparse.ArgumentParser(
        prog="diswot",
        description="Training-free student architecture search for knowledge distillation.",
        epilog="--debug (anywhere) or DISWOT_DEBUG=1: show the traceback of an internal error",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered spaces, models or datasets")
    p.add_argument("kind", choices=sorted(_registries()))
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("cost", help="parameters and multiply-adds of architectures")
    p.add_argument("--space", required=True, help="search space name (diswot list spaces)")
    p.add_argument("arch", nargs="+", help="architecture keys of that space")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("sample", help="sample, build and run architectures of a space")
    p.add_argument("--space", default="nb201")
    p.add_argument("--num", type=int, default=5, help="how many architectures (default 5)")
    p.add_argument("--seed", type=_seed, default=0)
    _add_data_args(p)
    p.add_argument("--download", action="store_true", help="fetch the dataset if missing")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("search", help="search a space for the student a proxy ranks best against a teacher")
    p.add_argument("--space", default="nb201", help="search space (diswot list spaces)")
    _add_scoring_args(p, "OUT/store.sqlite")
    p.add_argument(
        "--proxy", default=AUTO,
        help="fitness: a proxy (diswot list proxies) or a calibrated aggregate cal:a+b+...; default "
        f"{AUTO}: on nb201 {NB201_FITNESS}, on Transformer spaces {TEXT_FITNESS}, elsewhere "
        f"{AUTO_FITNESS['random']} with a random-init teacher (none given, or a model name) and "
        f"{AUTO_FITNESS['trained']} with a trained one (a checkpoint) (README, 'Which fitness')",
    )  # fmt: skip
    p.add_argument("--record", default="", help="comma list of extra proxies to store beside the fitness")
    p.add_argument("--strategy", default="evolution", type=_registered(STRATEGIES),
                   metavar=_names(STRATEGIES), help="how candidates are proposed")  # fmt: skip
    p.add_argument("--evaluations", type=_positive_int, default=100, help="distinct archs to score")
    p.add_argument("--time-budget", type=_seconds, default=None, help="stop after this many seconds")
    for bound in ("max", "min"):
        p.add_argument(f"--{bound}-flops", default=None, help="multiply-adds, e.g. 100M or 1.5G")
        p.add_argument(f"--{bound}-params", default=None, help="parameters, e.g. 500K")
        p.add_argument(f"--{bound}-latency-ms", default=None, help="batch-1 forward on --device")
    p.add_argument("--objective", default="flops", choices=["flops", "params", "latency_ms"],
                   help="the cost of NSGA-II and of the Pareto front")  # fmt: skip
    p.add_argument("--population", type=_positive_int, default=20)
    p.add_argument("--tournament", type=_positive_int, default=5)
    p.add_argument("--proposals-per-step", type=_positive_int, default=4,
                   help="children scored as one batch (spread over workers)")  # fmt: skip
    p.add_argument("--seed", type=_seed, default=0, help="seed of the strategy")
    p.add_argument("--executor", default="serial", type=_registered(EXECUTORS),
                   metavar=_names(EXECUTORS), help="where candidates are scored")  # fmt: skip
    p.add_argument("--workers", type=_positive_int, default=1)
    p.add_argument("--address", default=None, help="address of an existing Ray cluster")
    p.add_argument("--out", default="runs/search", help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the killed run in --out")
    p.add_argument("--ground-truth", default=None, help="table giving the winner's true accuracy")
    p.add_argument("--gt-column", default=None)
    p.add_argument("--top-k", type=_positive_int, default=10)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("train-teacher", help="train a teacher with cross-entropy (standard CIFAR recipe)")
    p.add_argument("--model", default="resnet56", help="zoo name or SPACE:ARCH (diswot list models)")
    p.add_argument("--out", default="runs/teacher.pt", help="checkpoint file; logs go to <stem>_run/")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="smooth the CE targets by EPS (a soft-target, 'tolerant' teacher)")  # fmt: skip
    p.add_argument("--distill-from", action="append", default=None,
                   help="also distil from this teacher (SPEC[:WEIGHT], repeatable)")  # fmt: skip
    p.add_argument("--distiller", default="kd", help="terms used with --distill-from (default kd)")
    _add_recipe_args(p, epochs=240)
    p.set_defaults(func=cmd_train_teacher)

    p = sub.add_parser("distill", help="distill a teacher into one or several students at once")
    _add_teacher_args(p, required=True, several="distill")
    p.add_argument("--student", action="append", required=True,
                   help="SPACE:ARCH, a zoo name, or a search's result.json (repeatable)")  # fmt: skip
    p.add_argument("--top-k", type=_positive_int, default=1, help="students taken from a result.json")
    p.add_argument(
        "--distiller", default="kd", help="e.g. kd, kd:0.9,sp:3000 or none (diswot list distillers)"
    )
    p.add_argument("--ce-weight", type=float, default=1.0, help="weight of the cross-entropy term")
    p.add_argument("--out", default="runs/distill")
    p.add_argument("--export", action="store_true",
                   help="also write each student as <run folder>/export (diswot export)")  # fmt: skip
    p.add_argument("--transfer", default=None,
                   help="also distil on this unlabelled dataset (any reader: folder, cifar10)")  # fmt: skip
    p.add_argument("--transfer-root", default=None, help="folder of the transfer set (default --data-root)")
    p.add_argument(
        "--select", default="kd3", help="selection rule of the transfer batches (diswot list selections)"
    )
    p.add_argument(
        "--keep", type=float, default=0.5, help="fraction of each transfer batch kept (default 0.5)"
    )
    p.add_argument(
        "--transfer-only", action="store_true", help="distil on the transfer set instead of --dataset"
    )
    _add_recipe_args(p, epochs=240)
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("export", help="write a student as a torch.export program (+ ONNX) and a JSON card")
    p.add_argument("source", help="a distill run folder or model.pt, a search's result.json, or SPACE:ARCH")
    p.add_argument("--rank", type=_positive_int, default=1, help="which of a result.json's top-k (default 1)")
    p.add_argument("--num-classes", type=_positive_int, default=None,
                   help="classes of a random-init network (default: 10 for images, 2 for text)")  # fmt: skip
    p.add_argument("--out", default="runs/export", help="folder for model.pt2, model.onnx and card.json")
    p.add_argument("--no-onnx", action="store_true", help="skip ONNX even if the onnx extra is installed")
    p.add_argument("--overwrite", action="store_true", help="replace an export already in --out")
    p.set_defaults(func=cmd_export)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", required=True)
    p = bench.add_parser("proxies", help="rank correlation of proxies with ground-truth accuracy")
    p.add_argument("--space", default="nb201")
    p.add_argument("--ground-truth", required=True, help="NB201 table or CSV with an 'arch' column")
    p.add_argument("--gt-column", action="append", help="accuracy column(s); default: every numeric one")
    p.add_argument("--proxies", default="diswot,nwot,synflow,snip,params",
                   help="comma list; a+b, log:a+b aggregates, cal:log:a+b calibrated ones")  # fmt: skip
    p.add_argument("--num-archs", type=_num_archs, default=100, help="how many sampled archs, or 'all'")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the sample of archs and of the bootstrap")
    _add_scoring_args(p, "OUT/store.sqlite")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--budget-bands", type=int, default=4,
                   help="equal-count FLOPs bands of the within-budget Kendall (default 4)")  # fmt: skip
    for bound in ("max", "min"):
        p.add_argument(f"--{bound}-flops", default=None, help="score only archs within, e.g. 100M")
        p.add_argument(f"--{bound}-params", default=None, help="score only archs within, e.g. 500K")
    p.add_argument("--top-k", type=int, default=5, help="report the best of the proxy's top k (default 5)")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap resamples of the 95%% intervals (0: none)")  # fmt: skip
    p.add_argument("--seed-columns", default=None,
                   help="comma list of per-seed truth columns for the noise ceiling "
                   "(default: <gt column>_seed*)")  # fmt: skip
    p.add_argument("--gain-column", default=None,
                   help="e.g. vanilla_accuracy: also rank the gain gt column - gain column")  # fmt: skip
    p.add_argument("--out", default="runs/bench-proxies")
    p.set_defaults(func=cmd_bench_proxies)

    p = bench.add_parser(
        "kd-ground-truth", help="distill students: arch,kd_accuracy,vanilla_accuracy (+ per-seed columns)"
    )
    p.add_argument("--space", default="resnet-depth")
    p.add_argument("--teacher", required=True, help="teacher checkpoint or Hugging Face model folder")
    p.add_argument("--num-archs", type=_positive_int, default=16, help="students sampled with --seed")
    p.add_argument("--archs", default=None, help="exact students: a file (one per line) or a,b,c")
    p.add_argument("--all", action="store_true", help="every architecture of a finite space")
    p.add_argument(
        "--seeds",
        type=_seed_list,
        default=None,
        help="training seeds, e.g. 0,1: per-seed columns and their mean (default: --seed)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="groups trained at once, in processes (several per GPU keep it busy)",
    )
    p.add_argument("--gpus", type=_gpu_list, default=None, help="GPU indices the workers share, e.g. 0,1")
    p.add_argument("--distiller", default="kd")
    p.add_argument("--vanilla", action="store_true", help="also train each student without a teacher")
    p.add_argument("--group-size", type=_positive_int, default=4, help="students sharing one teacher pass")
    p.add_argument("--out", default="runs/kd_ground_truth.csv")
    _add_recipe_args(p, epochs=10)
    p.set_defaults(func=cmd_bench_kd_ground_truth)
    return parser


#: the flags that name files or folders to read (see _check_boundary)
_PATH_ARGS = {
    dest: "--" + dest.replace("_", "-")
    for dest in ("teacher", "student", "ground_truth", "data_root", "transfer_root", "store", "merge")
}
_PATH_ARGS["source"] = "the export source"  # a positional argument


def _check_boundary(args: argparse.Namespace) -> None:
    """What every sub-command's flags must satisfy, checked before any work."""
    from diswot.paths import check_path_name

    # a path the file system cannot even look up (too long, a NUL byte) is bad input, wherever it
    # is given; --out has its own messages (diswot.search.rundir, diswot.runlock)
    for dest, label in _PATH_ARGS.items():
        values = getattr(args, dest, None)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str):
                check_path_name(value, label)
    _resolve_dataset(args)
    if getattr(args, "device", None) is not None:
        from diswot.devices import check_device

        check_device(args.device)


def _report_bug(command: str, exc: BaseException) -> None:
    """An exception no input check caught: a bug of diswot. One line, the traceback in a file."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(exc))
    try:
        fd, path = tempfile.mkstemp(prefix="diswot-crash-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        where = f"the traceback is in {path}"
    except OSError:
        where = "rerun with --debug to see the traceback"
    print(f"diswot {command}: internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug in "
          f"diswot, please report it: {where}", file=sys.stderr)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, 2 for bad input, 1 for a bug, 130 when interrupted).

    ``--debug`` anywhere in ``argv`` (or ``DISWOT_DEBUG=1``) lets an unexpected exception's
    traceback through instead of the one-line bug report."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("DISWOT_DEBUG", "") not in ("", "0")
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        _check_boundary(args)
        return int(args.func(args))
    except DiswotError as exc:
        print(f"diswot {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"diswot {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``diswot list proxies | head``): not an error of ours; keep Python
        # from complaining again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # the last line of defence: bad input never gets here (tests make sure)
        if debug:
            raise
        _report_bug(args.command, exc)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
