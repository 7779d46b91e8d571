"""``diswot export`` round trip: each student loaded by plain torch in an interpreter that cannot
import diswot, on another batch size (and token count) than it was exported with, against the
diswot model's outputs; the ONNX file run by ONNX Runtime; export time and file sizes.

Usage: python benchmarks/export_check.py [--out results/export_check.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from diswot.export import PROGRAM_FILE, export, load_source, run_without_diswot

HERE = Path(__file__).resolve().parent
STUDENTS = [
    "resnet-depth:333",
    "nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "autodistil-tiny:L4-H128-A7-R2.0",
    "autodistil-small:L9-H256-A7-R2.5",
]


def check_inputs(spec: dict, batch: int = 5, tokens: int = 37) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(7)
    if spec["inputs"][0]["name"] == "images":
        return (torch.randn(batch, *spec["inputs"][0]["shape"][1:], generator=generator),)
    ids = torch.randint(0, spec["inputs"][0]["vocab_size"], (batch, tokens), generator=generator)
    mask = (torch.arange(tokens)[None] < torch.randint(1, tokens + 1, (batch, 1), generator=generator)).long()
    return ids, mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "export_check.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, student in enumerate(STUDENTS):
            started = time.perf_counter()
            report = export(student, Path(tmp) / str(i))
            seconds = time.perf_counter() - started
            inputs = check_inputs(report.card)
            jobs.append((report.program, inputs))
            onnx_bytes = report.onnx.stat().st_size if report.onnx else None
            rows.append({"student": student, "export_s": round(seconds, 1), "check": report.card["check"],
                         "pt2_bytes": report.program.stat().st_size, "onnx_bytes": onnx_bytes,
                         "check_inputs": [list(x.shape) for x in inputs]})  # fmt: skip
        outputs = run_without_diswot(jobs)
        for row, (program, inputs), found in zip(rows, jobs, outputs, strict=True):
            with torch.no_grad():
                expected = load_source(row["student"]).model.eval()(*inputs)  # same seed: same weights
            row["standalone_max_abs_diff"] = float((found - expected).abs().max())
            assert Path(program).name == PROGRAM_FILE
    report = {"command": "python benchmarks/export_check.py", "torch": torch.__version__, "students": rows}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
