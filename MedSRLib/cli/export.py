"""`medsr export MODEL OUT.onnx`: a catalog model written as ONNX, checked against torch."""

from __future__ import annotations

from pathlib import Path

from ..errors import MedSRError


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a catalog model as ONNX (checked against torch)")
    p.add_argument("model")
    p.add_argument("output", help="an .onnx file")
    p.add_argument("--overwrite", action="store_true")


def cmd_export(args) -> int:
    import shutil
    import tempfile

    from ..io import check_output_path
    from ..models.onnx_backend import export_onnx

    output = check_output_path(args.output, [], args.overwrite)
    if output.suffix != ".onnx":
        raise MedSRError(f"the export is an ONNX file; name it *.onnx, not {output.name}")
    with tempfile.TemporaryDirectory(prefix=".medsr-", dir=output.parent) as staging:
        report = export_onnx(args.model, Path(staging) / output.name)
        shutil.move(str(Path(staging) / output.name), output)
    print(f"{output}: {report['model']}, opset {report['opset']}, sha256 {report['sha256']}, "
          f"largest difference from torch {report['max_abs_difference']:.2g}")
    return 0
