"""Property-based probes of every input boundary (issue 26): arch strings, teacher checkpoints,
ground-truth files and argument vectors drawn by hypothesis.

The property everywhere: exit 0 or 2 (a :class:`DiswotError` in Python), never a traceback, at
most a few lines on stderr, and no output folder left behind by a refused run. The default
profile is small and fast; ``pytest -m fuzz_long`` runs the same properties on many more examples.
"""

from __future__ import annotations

import contextlib
import io
import string
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diswot.bench.ground_truth import read_ground_truth
from diswot.cli import main
from diswot.errors import DiswotError
from diswot.models import load_teacher
from diswot.search_spaces import get_space

FAST = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
LONG = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
NB201_KEY = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``diswot argv`` in this process: (exit status, stderr); argparse's own exit included."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage and one error line
            code = int(exc.code or 0)
    return code, err.getvalue()


def assert_clean(code: int, err: str, argv: object) -> None:
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    # argparse's usage block and progress bars aside, the messages themselves
    lines = [ln for ln in err.splitlines() if ln.strip() and "\r" not in ln and not ln[0].isspace()]
    lines = [ln for ln in lines if not ln.startswith("usage:")]
    assert len(lines) <= 4, (argv, err)


# arch strings --------------------------------------------------------------------------------
def mutated(key: str):
    """``key`` with random characters replaced, inserted or cut: near-miss architectures."""
    alphabet = st.sampled_from(list(set(key)) + list("~|+:,0129x _-\x00é"))
    return st.lists(st.tuples(st.integers(0, len(key)), st.integers(0, 3), alphabet), max_size=4).map(
        lambda edits: _apply(key, edits)
    )


def _apply(key: str, edits: list[tuple[int, int, str]]) -> str:
    for at, kind, char in edits:
        at = min(at, len(key))
        key = [key[:at] + char + key[at + 1 :], key[:at] + char + key[at:], key[:at] + key[at + 1 :], key][
            kind
        ]
    return key


def _check_arch(space: str, key: str) -> None:
    code, err = run_cli(["cost", "--space", space, "--", key])
    assert_clean(code, err, key)


@FAST
@given(key=st.one_of(mutated(NB201_KEY), st.text(max_size=40)))
def test_mutated_and_random_nb201_arch_strings_give_a_cost_or_one_line(key):
    _check_arch("nb201", key)


@FAST
@given(key=st.one_of(mutated("333"), mutated("153"), st.text(string.printable, max_size=12)))
def test_mutated_resnet_depth_arch_strings_give_a_cost_or_one_line(key):
    _check_arch("resnet-depth", key)


# teacher checkpoints -------------------------------------------------------------------------
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2000), st.floats(allow_nan=True), st.text(max_size=8),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    st.just({"fc.weight": "not a tensor"}), st.just({1: torch.zeros(2)}), st.just(torch.zeros(3)),
)  # fmt: skip


def _good_payload() -> dict:
    from diswot.models.checkpoint import build_model

    net = build_model("resnet20", 10)
    return {"format": "diswot", "version": 1, "model": "resnet20", "num_classes": 10,
            "state_dict": net.state_dict(), "meta": {}}  # fmt: skip


GOOD = _good_payload()


@FAST
@given(
    fields=st.dictionaries(
        st.sampled_from(["model", "num_classes", "state_dict", "meta", "space_options", "format"]),
        ANY_VALUE,
        min_size=1,
        max_size=3,
    )
)
def test_checkpoints_with_fields_of_random_types_are_refused_in_one_line(tmp_path_factory, fields):
    path = tmp_path_factory.mktemp("ckpt") / "teacher.pt"
    torch.save({**GOOD, **fields}, path)
    try:
        teacher = load_teacher(path, num_classes=10)
    except DiswotError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 600, str(exc)
    else:  # only a payload that still describes a usable resnet20 loads
        assert teacher.num_classes == 10


# ground-truth files --------------------------------------------------------------------------
ENCODINGS = ["utf-8", "utf-16", "latin-1", "cp1252", "utf-32"]


@FAST
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.tuples(
            st.lists(
                st.tuples(st.sampled_from([NB201_KEY, "333", "x", ""]), st.text(max_size=6)), max_size=5
            ),
            st.sampled_from(ENCODINGS),
        ).map(lambda t: ("arch,acc\n" + "".join(f"{a},{v}\n" for a, v in t[0])).encode(t[1], "replace")),
    )
)
def test_ground_truth_files_of_random_bytes_and_encodings_read_or_fail_in_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("gt") / "truth.csv"
    path.write_bytes(data)
    try:
        read_ground_truth(path, get_space("nb201"))
    except DiswotError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


# argument vectors ----------------------------------------------------------------------------
JUNK = st.one_of(
    st.sampled_from(["-1", "0", "1", "2", "4294967296", "1e9", "nan", "inf", "abc", "", "cuda", "cuda:7",
                     "banana", "mps", "cpu", "/dev/null", "/nonexistent/x", "nb201", "params", "cal:a+b",
                     "resnet20", "..", "a" * 300]),
    st.text(string.ascii_letters + string.digits + ":-_./", max_size=10),
)  # fmt: skip
SEARCH_FLAGS = ["--space", "--proxy", "--strategy", "--seed", "--proxy-seed", "--device", "--max-flops",
                "--min-params", "--population", "--tournament", "--executor", "--teacher", "--dataset",
                "--data-root", "--ground-truth", "--store", "--record", "--objective"]  # fmt: skip


@FAST
@given(flags=st.lists(st.tuples(st.sampled_from(SEARCH_FLAGS), JUNK), max_size=3))
def test_random_search_arguments_exit_0_or_2_and_leave_no_half_run(tmp_path_factory, flags):
    out = tmp_path_factory.mktemp("search") / "run"
    argv = ["search", "--evaluations", "1", "--population", "2", "--batch-size", "10", "--no-plots",
            "--proxy", "params", *[x for f in flags for x in f], "--out", str(out)]  # fmt: skip
    with contextlib.chdir(out.parent):  # a relative --store or --record lands in a scratch folder
        code, err = run_cli(argv)
    assert_clean(code, err, argv)
    if code != 0:
        assert not out.exists(), (argv, sorted(p.name for p in out.iterdir()))
    else:
        assert (out / "result.json").is_file()


@FAST
@given(
    command=st.sampled_from([["cost", "--space"], ["list"], ["sample", "--num", "1", "--seed"],
                             ["export", "--no-onnx", "--out"], ["bench", "proxies", "--ground-truth"],
                             ["distill", "--epochs", "1", "--student", "resnet20", "--teacher"],
                             ["train-teacher", "--epochs", "1", "--out"]]),
    junk=st.lists(JUNK, min_size=1, max_size=2),
)  # fmt: skip
def test_random_arguments_of_every_sub_command_exit_0_or_2(tmp_path_factory, monkeypatch, command, junk):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # default outputs land in a scratch folder
    argv = [*command, *junk]
    if command[0] in ("distill", "train-teacher") and junk[0] not in ("/dev/null", "/nonexistent/x"):
        argv += ["--train-subset", "10", "--batch-size", "10"]  # keep a run that starts cheap
    code, err = run_cli(argv)
    assert_clean(code, err, argv)


# the longer profile ---------------------------------------------------------------------------
@pytest.mark.fuzz_long
@LONG
@given(key=st.one_of(mutated(NB201_KEY), st.text(max_size=80)), data=st.binary(max_size=2000))
def test_long_profile_arch_strings_and_ground_truth_bytes(tmp_path_factory, key, data):
    _check_arch("nb201", key)
    path = tmp_path_factory.mktemp("gt") / "truth.csv"
    path.write_bytes(b"arch,acc\n" + data)
    with contextlib.suppress(DiswotError):
        read_ground_truth(path, get_space("nb201"))


@pytest.mark.fuzz_long
@settings(LONG, max_examples=80)
@given(flags=st.lists(st.tuples(st.sampled_from(SEARCH_FLAGS), JUNK), max_size=5))
def test_long_profile_search_arguments(tmp_path_factory, flags):
    test_random_search_arguments_exit_0_or_2_and_leave_no_half_run.hypothesis.inner_test(
        tmp_path_factory, flags
    )


def test_an_unexpected_exception_is_one_line_naming_the_traceback_file(monkeypatch, capsys):
    import diswot.cli as cli

    def boom(args):
        raise ZeroDivisionError("a bug")

    parser = cli.build_parser()
    parser._subparsers._group_actions[0].choices["list"].set_defaults(func=boom)  # a bug in `list`
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert main(["list", "spaces"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "this is a bug" in err and "Traceback" not in err
    path = Path(err.split("the traceback is in ")[1].strip())
    assert "ZeroDivisionError: a bug" in path.read_text()
    path.unlink()
    with pytest.raises(ZeroDivisionError):
        main(["list", "spaces", "--debug"])
