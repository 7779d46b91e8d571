"""The adversarial case table for ``tests/test_robustness.py``: hostile files, absurd numbers and
bad paths at every entry point, one row each.

A row is data, not code: an argument vector whose ``{fx}`` (the hostile fixtures) and ``{tmp}``
(the case's own scratch folder) are filled in when it runs, the output it must not leave behind
when it refuses, and whether succeeding is also right (a batch larger than the data, a NaN row in a
ground truth). The checks themselves live in the test module, so adding an input is one line here.

Left out because another test already covers them: bad ``--store`` files and an ``--out`` below a
file for search and bench (``tests/search/test_bad_stores_and_outputs.py``), a NaN-weight or
zero-byte teacher through search, and ``top_k=-1`` through the Python API (same file).
"""

from __future__ import annotations

from dataclasses import dataclass

# tiny settings: every refusal is decided before real work, and every success takes a second
SEARCH = (
    "search",
    "--space",
    "resnet-depth",
    "--teacher",
    "resnet8",
    "--evaluations",
    "4",
    "--batch-size",
    "16",
    "--population",
    "4",
    "--no-plots",
)
TRAIN = ("--epochs", "1", "--batch-size", "40")
DISTILL = ("distill", "--student", "resnet8", *TRAIN)
BENCH_PROXIES = (
    "bench",
    "proxies",
    "--space",
    "resnet-depth",
    "--teacher",
    "resnet8",
    "--proxies",
    "nwot,flops",
    "--num-archs",
    "6",
    "--batch-size",
    "16",
    "--no-plots",
    "--bootstrap",
    "0",
)
KD_GROUND_TRUTH = (
    "bench",
    "kd-ground-truth",
    "--space",
    "resnet-depth",
    "--num-archs",
    "1",
    *TRAIN,
    "--teacher",
    "{fx}/teacher.pt",
)

TOO_LONG = "n" * 300  # over NAME_MAX (255) on Linux, macOS and Windows file systems
REFUSED = ("refused",)
EITHER = ("refused", "ok")  # both are right: e.g. a batch larger than the data may be clipped or refused


@dataclass(frozen=True)
class Case:
    """One hostile input: ``argv`` for ``diswot``, the output a refusal must not leave behind,
    the outcomes that are right, and (for a success) which output check applies."""

    name: str
    argv: tuple[str, ...]
    out: str | None = None
    accept: tuple[str, ...] = REFUSED
    check: str | None = None  # "search" or "distill": what a successful run must have written
    plant: tuple[str, str] | None = None  # (fixture, path under {tmp}): a file put there before the run

    def render(self, fx: str, tmp: str) -> list[str]:
        return [a.replace("{fx}", fx).replace("{tmp}", tmp) for a in self.argv]


@dataclass(frozen=True)
class ApiCase:
    """One hostile call of the Python API, as source text; it must raise a one-line DiswotError."""

    name: str
    code: str
    out: str | None = None


def _search(name: str, *extra: str, **kw) -> Case:
    return Case(f"search {name}", (*SEARCH, "--out", "s", *extra), out="s", **kw)


def _distill(name: str, *extra: str, teacher: str = "teacher.pt", **kw) -> Case:
    return Case(
        f"distill {name}", (*DISTILL, "--teacher", f"{{fx}}/{teacher}", "--out", "d", *extra), out="d", **kw
    )


def _proxies(name: str, *extra: str, truth: str = "gt_good.csv", **kw) -> Case:
    argv = (*BENCH_PROXIES, "--ground-truth", f"{{fx}}/{truth}", "--out", "b", *extra)
    return Case(f"bench proxies {name}", argv, out="b", **kw)


def _kd_truth(name: str, *extra: str, out: str = "kd.csv") -> Case:
    name = name.replace("{fx}/", "")  # the test id shows the fixture, not a placeholder
    return Case(f"bench kd-ground-truth {name}", (*KD_GROUND_TRUTH, "--out", out, *extra), out="kd.csv")


def _teacher(name: str, *extra: str) -> Case:
    return Case(
        f"train-teacher {name}",
        ("train-teacher", "--model", "resnet8", *TRAIN, "--out", "t.pt", *extra),
        out="t.pt",
    )


CHECKPOINTS = (
    "hostile.pt",
    "hostile_zip.pt",
    "zero.pt",
    "random.pt",
    "truncated.pt",
    "wrong_arch.pt",
    "teacher100.pt",
)
IMAGE_FOLDERS = ("img_corrupt", "img_text", "img_empty", "img_one_class", "img_bomb", "teacher.pt")
CIFAR_FOLDERS = (
    "cifar_hostile_batch",
    "cifar_hostile_meta",
    "cifar_truncated",
    "cifar_random",
    "cifar_shape",
    "cifar_labels",
    "cifar_badlabel",
    "cifar_meta_list",
)
SST2_FOLDERS = (
    "sst2_latin1",
    "sst2_nolabel",
    "sst2_empty",
    "sst2_textlabel",
    "sst2_ragged",
    "sst2_header_only",
    "sst2_binary",
)
TRUTH_TABLES = (
    "gt_nan.csv",
    "gt_all_nan.csv",
    "gt_dup.csv",
    "gt_text.csv",
    "gt_noarch.csv",
    "gt_empty.csv",
    "gt_header_only.csv",
    "gt_foreign.csv",
    "gt_inf.csv",
)
SEARCH_NUMBERS = (
    ("--max-flops", "-5"),
    ("--max-flops", "1e400"),
    ("--max-flops", "nan"),
    ("--max-flops", "1"),
    ("--evaluations", "0"),
    ("--evaluations", "-3"),
    ("--workers", "0"),
    ("--top-k", "0"),
    ("--batch-size", "0"),
    ("--population", "0"),
    ("--time-budget", "-1"),
    ("--num-batches", "0"),
    ("--max-params", "lots"),
    ("--reference-size", "0"),
    ("--tournament", "0"),
)
DISTILL_NUMBERS = (
    ("--epochs", "0"),
    ("--lr", "-1"),
    ("--lr", "nan"),
    ("--lr", "inf"),
    ("--train-subset", "0"),
    ("--train-subset", "5"),
    ("--batch-size", "0"),
    ("--top-k", "0"),
    ("--eval-every", "0"),
    ("--weight-decay", "-1"),
    ("--ce-weight", "nan"),
    ("--ce-weight", "-1"),
    ("--device", "cuda:7"),
    ("--distiller", "kd:abc"),
)
BENCH_NUMBERS = (("--num-archs", "0"), ("--top-k", "0"), ("--bootstrap", "-1"), ("--budget-bands", "0"))
KD_NUMBERS = (
    ("--num-archs", "0"),
    ("--epochs", "0"),
    ("--lr", "-1"),
    ("--train-subset", "0"),
    ("--workers", "0"),
    ("--group-size", "0"),
    ("--seeds", "x"),
    ("--archs", "999"),
    ("--archs", "{fx}/random.csv"),
    ("--teacher", "{fx}/hostile.pt"),
)
TEACHER_NUMBERS = (
    ("--epochs", "0"),
    ("--lr", "-1"),
    ("--train-subset", "0"),
    ("--batch-size", "-4"),
    ("--model", "nonsense"),
)

CASES: list[Case] = [
    # hostile and malformed checkpoints
    *(_distill(f"teacher {c}", teacher=c) for c in CHECKPOINTS),
    *(
        _search(f"teacher {c}", "--teacher", f"{{fx}}/{c}")
        for c in ("hostile.pt", "random.pt", "teacher100.pt")
    ),
    _distill("bare state_dict, no --teacher-model", teacher="bare.pt"),
    _distill("bare state_dict, wrong --teacher-model", "--teacher-model", "resnet20", teacher="bare.pt"),
    _distill("NaN-weight teacher", teacher="nan_weights.pt"),
    Case(
        "distill --student hostile result.json",
        (
            "distill",
            "--teacher",
            "{fx}/teacher.pt",
            "--student",
            "{fx}/hostile_result.json",
            *TRAIN,
            "--out",
            "d",
        ),
        out="d",
    ),
    # --resume of a run folder whose last.pt is a hostile pickle
    Case(
        "distill --resume with hostile last.pt",
        (*DISTILL, "--teacher", "{fx}/teacher.pt", "--out", "d", "--resume"),
        plant=("hostile_zip.pt", "d/last.pt"),
    ),
    # image folders, CIFAR batches, text files
    *(
        _distill(f"--dataset folder {f}", "--dataset", "folder", "--data-root", f"{{fx}}/{f}")
        for f in IMAGE_FOLDERS
    ),
    _distill(
        "--dataset folder (12 valid images, batch 40)",
        "--dataset",
        "folder",
        "--data-root",
        "{fx}/img_good",
        "--distiller",
        "none",
        accept=EITHER,
        check="distill",
    ),
    *(
        _search(f"--dataset cifar10 {f}", "--dataset", "cifar10", "--data-root", f"{{fx}}/{f}")
        for f in CIFAR_FOLDERS
    ),
    _distill(
        "--dataset cifar10 cifar_badlabel", "--dataset", "cifar10", "--data-root", "{fx}/cifar_badlabel"
    ),
    *(
        Case(
            f"distill --dataset sst2 {f}",
            (
                "distill",
                "--teacher",
                "bert-tiny",
                "--student",
                "bert-tiny",
                *TRAIN,
                "--dataset",
                "sst2",
                "--data-root",
                f"{{fx}}/{f}",
                "--out",
                "d",
            ),
            out="d",
        )
        for f in SST2_FOLDERS
    ),
    # ground-truth tables
    *(
        _proxies(f"--ground-truth {t}", truth=t, accept=EITHER if t == "gt_nan.csv" else REFUSED)
        for t in TRUTH_TABLES
    ),
    *(
        _search(f"--ground-truth {t}", "--ground-truth", f"{{fx}}/{t}")
        for t in ("gt_text.csv", "gt_dup.csv", "gt_empty.csv")
    ),
    # a zero-byte store is a new store
    _search("--store zero-byte file", "--store", "{tmp}/zero.sqlite", accept=EITHER, check="search"),
    # absurd numbers
    *(_search(f"{flag} {value}", flag, value) for flag, value in SEARCH_NUMBERS),
    _search("--batch-size 1000 (> 300 images)", "--batch-size", "1000", accept=EITHER, check="search"),
    *(_distill(f"{flag} {value}", flag, value) for flag, value in DISTILL_NUMBERS),
    # a refusal is right too: lr scales with the batch, so shrinking it silently would change the recipe
    _distill("--batch-size 1000 (> the data)", "--batch-size", "1000", accept=EITHER, check="distill"),
    *(_proxies(f"{flag} {value}", flag, value) for flag, value in BENCH_NUMBERS),
    *(_kd_truth(f"{flag} {value}", flag, value) for flag, value in KD_NUMBERS),
    # an existing --out table is resumed: a hostile one must be refused (and left as it was)
    *(_kd_truth(f"--out existing {t}", out=f"{{fx}}/{t}") for t in ("random.csv", "kd_dup.csv")),
    *(_teacher(f"{flag} {value}", flag, value) for flag, value in TEACHER_NUMBERS),
    # an --out below a file (a typo, a name clash)
    Case(
        "distill --out through a file",
        (*DISTILL, "--teacher", "{fx}/teacher.pt", "--out", "{fx}/teacher.pt/d"),
    ),
    Case(
        "train-teacher --out into a file path",
        ("train-teacher", "--model", "resnet8", *TRAIN, "--out", "{fx}/teacher.pt/x.pt"),
    ),
    # an --out name longer than the file system allows, as the leaf and below a new folder (which
    # must be taken back): every command that writes
    *(
        Case(
            f"{' '.join(argv[: 2 if argv[0] == 'bench' else 1])} --out {where} name too long",
            (*argv, "--out", out),
            out=out.split("/")[0],
        )
        for argv in (
            SEARCH,
            (*DISTILL, "--teacher", "{fx}/teacher.pt"),
            ("export", "--no-onnx", "resnet8"),
            (*BENCH_PROXIES, "--ground-truth", "{fx}/gt_good.csv"),
            KD_GROUND_TRUTH,
            ("train-teacher", "--model", "resnet8", *TRAIN),
        )
        for where, out in (("leaf", TOO_LONG), ("nested", f"new/{TOO_LONG}"))
    ),
]

_ONE_EPOCH = "recipe=diswot.distill.Recipe(epochs=1, batch_size=40)"


def _api_search(name: str, call_args: str, batch_size: int = 16) -> ApiCase:
    call = (f"diswot.run_search('resnet-depth', teacher='resnet8', batch_size={batch_size}, out='{{tmp}}/s', "
            f"progress=False, {call_args})")  # fmt: skip
    return ApiCase(f"run_search {name}", call, out="s")


def _api_distill(
    name: str, call_args: str, teacher: str = "teacher.pt", students: str = "['resnet8']"
) -> ApiCase:
    call = (f"diswot.distill.distill('{{fx}}/{teacher}', {students}, out='{{tmp}}/d', progress=False, "
            f"{call_args})")  # fmt: skip
    return ApiCase(f"distill {name}", call, out="d")


API_CASES: list[ApiCase] = [
    ApiCase(
        "load_dataset cifar10 hostile batch", "diswot.load_dataset('cifar10', '{fx}/cifar_hostile_batch')"
    ),
    ApiCase("load_dataset folder corrupt", "diswot.load_dataset('folder', '{fx}/img_corrupt')"),
    ApiCase("load_dataset sst2 latin-1", "diswot.load_dataset('sst2', '{fx}/sst2_latin1')"),
    ApiCase("load_dataset missing root", "diswot.load_dataset('cifar10', '{tmp}/nope')"),
    ApiCase("load_teacher hostile", "diswot.load_teacher('{fx}/hostile.pt')"),
    ApiCase("load_teacher hostile zip", "diswot.load_teacher('{fx}/hostile_zip.pt')"),
    ApiCase("load_teacher truncated", "diswot.load_teacher('{fx}/truncated.pt')"),
    ApiCase("load_teacher wrong classes", "diswot.load_teacher('{fx}/teacher.pt', num_classes=100)"),
    ApiCase("load_teacher model=nonsense bare", "diswot.load_teacher('{fx}/bare.pt', model='nonsense')"),
    _api_search("evaluations=0", "evaluations=0"),
    _api_search("batch_size=-1", "evaluations=2", batch_size=-1),
    _api_search("workers=0", "evaluations=2, workers=0"),
    _api_search("Budget max_flops=-5", "evaluations=2, budget=diswot.Budget.parse(max_flops='-5')"),
    _api_distill("students=[]", "", students="[]"),
    _api_distill("Recipe(epochs=0)", "recipe=diswot.distill.Recipe(epochs=0)"),
    _api_distill("train_subset=-1", f"train_subset=-1, {_ONE_EPOCH}"),
    _api_distill("hostile teacher", _ONE_EPOCH, teacher="hostile.pt"),
]
