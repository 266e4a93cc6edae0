"""GPU figures of issue 18, measured on a lent device by gpu_run.sh; writes OUT/gpu.json and OUT/profile_*.txt.

    python Testing/Benchmarks/gpu/gpu_bench.py OUT TRAINING_DATA_FOLDER

1. Ceiling: a bf16 8192^3 matrix product through torch (TFLOP/s; ten timed after three warm-ups).
2. The networks' own rate: the catalog's brain-sr-iso and brain-sr-thick over one 1x1x256^3 tensor already on
   the GPU, bf16 autocast (as the engine runs CUDA) and float32 (TF32 convolutions allowed, torch's default for
   them), channels-last too; FLOPs counted from the convolutions (2 x in x out x kernel volume per output voxel), so
   TFLOP/s and the share of the bf16 ceiling; then the same through the engine (predict: the volume from and back
   to host memory, windows, blending).
3. File to file: `medsr sr` as a user runs it, in a fresh process (imports, CUDA start, read, method, write), and
   the same command three times in one warm process (a Slicer session, a server): 711-2C at 2x2x2 mm (128^3, the
   test data) -> 256^3 at 1 mm, and 3T18yo acquired at 1x1x4 mm (256x256x64) -> 256^3; `cnn` to .nii and .nii.gz,
   `auto`; a cProfile of one warm call names where the time goes.
"""

from __future__ import annotations

import cProfile
import io
import json
import platform
import pstats
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]
#: no GPU here: a small run of every step on the CPU, to check the script before a device's time is spent on it
SMOKE = not torch.cuda.is_available()
DEVICE = "cpu" if SMOKE else "cuda"
DATASHEET_BF16_DENSE_TFLOPS = 989.0  # H100/H200 SXM, dense bf16, vendor datasheet


def _sync() -> None:
    if not SMOKE:
        torch.cuda.synchronize()


def _events_time(run, repeats: int, warmups: int) -> float:
    for _ in range(warmups):
        run()
    if SMOKE:
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        return (time.perf_counter() - start) / repeats
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        run()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000.0 / repeats


def matmul_ceiling() -> dict:
    n = 512 if SMOKE else 8192
    a = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    seconds = _events_time(lambda: a @ b, 10, 3)
    return {"what": "bf16 8192^3 matrix product, random data, mean of 10 after 3 warm-ups",
            "seconds": seconds, "tflops": 2 * n ** 3 / seconds / 1e12}


def conv_flops_per_voxel(network: torch.nn.Module) -> int:
    return sum(2 * m.in_channels * m.out_channels * int(np.prod(m.kernel_size)) // m.groups
               for m in network.modules() if isinstance(m, torch.nn.Conv3d))


def network_rates(ceiling: float) -> list:
    from MedSRLib.inference import predict
    from MedSRLib.models import load_model

    rows = []
    side = 48 if SMOKE else 256
    for name in ("brain-sr-iso", "brain-sr-thick"):
        network, entry = load_model(name)
        network = network.to(DEVICE).eval()
        per_voxel = conv_flops_per_voxel(network)
        flops = per_voxel * side ** 3
        x = torch.rand(1, 1, side, side, side, device=DEVICE)
        for label, dtype, channels_last in (("bf16 autocast", torch.bfloat16, False),
                                            ("bf16 autocast, channels-last", torch.bfloat16, True),
                                            ("float32 (TF32 convolutions)", None, False)):
            net = network.to(memory_format=torch.channels_last_3d) if channels_last else network.to(
                memory_format=torch.contiguous_format)
            data = x.to(memory_format=torch.channels_last_3d) if channels_last else x
            if not SMOKE:
                torch.cuda.reset_peak_memory_stats()

            def run():
                with torch.no_grad(), torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=dtype is not None):
                    net(data)

            seconds = _events_time(run, 5, 2)
            rows.append({"model": f"{entry['name']} {entry['version']}", "precision": label, "voxels": side ** 3,
                         "mflop_per_voxel": per_voxel / 1e6, "seconds": seconds, "tflops": flops / seconds / 1e12,
                         "share_of_measured_bf16_ceiling": flops / seconds / 1e12 / ceiling,
                         "peak_gpu_memory_gib": 0.0 if SMOKE else torch.cuda.max_memory_allocated() / 2 ** 30})
        network = network.to(memory_format=torch.contiguous_format)
        volume = np.random.default_rng(0).random((side,) * 3, dtype=np.float32)
        predict(network, volume, device=DEVICE, margin=entry["input"]["margin"], multiple=1,
                bytes_per_voxel=entry["input"]["bytes_per_voxel"])  # warm-up
        _sync()
        start = time.perf_counter()
        _, report = predict(network, volume, device=DEVICE, margin=entry["input"]["margin"], multiple=1,
                            bytes_per_voxel=entry["input"]["bytes_per_voxel"])
        seconds = time.perf_counter() - start
        rows.append({"model": f"{entry['name']} {entry['version']}", "precision": "engine (predict): host -> GPU -> host, "
                     f"{report.windows} window(s) of {report.patch_size}", "voxels": side ** 3, "mflop_per_voxel": per_voxel / 1e6,
                     "seconds": seconds, "tflops": flops / seconds / 1e12,
                     "share_of_measured_bf16_ceiling": flops / seconds / 1e12 / ceiling})
    return rows


def make_inputs(folder: Path, data: Path) -> dict:
    from MedSRLib import read_volume, write_volume
    from MedSRLib.simulate import Acquisition, degrade

    folder.mkdir(parents=True, exist_ok=True)
    iso = REPO / "Testing" / "Data" / "711-2c-2mm" / "t1.nii.gz"
    thick = folder / "thick4.nii.gz"
    head = read_volume(data / "a_3t18yo.nii")
    if SMOKE:  # small crops, so the CPU check takes seconds
        from MedSRLib.geometry import Grid

        def crop(volume, n):
            g = volume.grid
            origin = g.ijk_to_lps() @ np.array([g.size[0] // 2 - n, g.size[1] // 2 - n, g.size[2] // 2 - n, 1.0])
            array = volume.as_float32()[g.size[0] // 2 - n: g.size[0] // 2 + n, g.size[1] // 2 - n: g.size[1] // 2 + n,
                                        g.size[2] // 2 - n: g.size[2] // 2 + n]
            return volume.with_array(np.ascontiguousarray(array), Grid(array.shape, g.spacing, tuple(origin[:3]), g.direction))

        head = crop(head, 24)
        iso = folder / "iso2.nii.gz"
        write_volume(crop(read_volume(REPO / "Testing" / "Data" / "711-2c-2mm" / "t1.nii.gz"), 12), iso)
    write_volume(degrade(head.with_array(head.as_float32()), Acquisition((1, 1, 4), "gaussian")), thick)
    return {"iso2": iso, "thick4": thick}


def command(source: Path, output: Path, method: str) -> list:
    return ["sr", str(source), str(output), "--method", method, "--spacing", "1", "1", "1", "--device", DEVICE,
            "--overwrite", "--quiet"]


def fresh_process(arguments: list, timeout: int = 240) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "MedSRLib"] + arguments, capture_output=True, text=True, timeout=timeout)
    return {"seconds": time.perf_counter() - start, "exit": done.returncode, "stderr_tail": done.stderr[-400:]}


def warm_process(arguments: list, repeats: int = 3) -> dict:
    from MedSRLib.cli.main import main

    times = []
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        code = main(arguments)
        _sync()
        times.append(time.perf_counter() - start)
        if code:
            return {"exit": code, "seconds": times}
    return {"exit": 0, "seconds": times, "median": float(np.median(times))}


def profile(arguments: list, path: Path) -> None:
    from MedSRLib.cli.main import main

    profiler = cProfile.Profile()
    profiler.enable()
    main(arguments)
    _sync()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(35)
    path.write_text(text.getvalue())


def main(out: Path, data: Path) -> None:
    import onnxruntime

    out.mkdir(parents=True, exist_ok=True)
    report = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "gpu": "none (smoke run on the CPU)" if SMOKE else torch.cuda.get_device_name(0),
              "cpu_cores": __import__("os").cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
              "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
              "onnxruntime": onnxruntime.__version__, "onnxruntime_providers": onnxruntime.get_available_providers()}
    try:
        report["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                               "--format=csv"], capture_output=True, text=True).stdout
    except OSError as error:
        report["nvidia_smi"] = str(error)
    ceiling = matmul_ceiling()
    report["ceiling"] = ceiling
    report["datasheet_bf16_dense_tflops"] = DATASHEET_BF16_DENSE_TFLOPS
    print(json.dumps(ceiling), flush=True)
    report["networks"] = network_rates(ceiling["tflops"])
    for row in report["networks"]:
        print(json.dumps(row), flush=True)
    (out / "gpu.json").write_text(json.dumps(report, indent=1))
    inputs = make_inputs(Path("/tmp/gpu-bench"), data)
    runs = []
    cases = [("iso2", "cnn", ".nii"), ("iso2", "cnn", ".nii.gz"), ("thick4", "cnn", ".nii"), ("iso2", "auto", ".nii"),
             ("thick4", "auto", ".nii")]
    for source, method, suffix in cases:
        output = Path("/tmp/gpu-bench") / f"out_{source}_{method}{suffix}"
        arguments = command(inputs[source], output, method)
        row = {"input": source, "method": method, "output": output.name, "fresh_process": fresh_process(arguments)}
        row["warm_process"] = warm_process(arguments, 3 if method == "cnn" else 1)
        from MedSRLib import read_volume

        result = read_volume(output)
        row["output_grid"] = str(result.grid)
        row["metadata"] = {k: v for k, v in result.metadata.items() if k in ("method", "model", "inference_device",
                                                                              "auto_choice", "auto_reason", "inference_notes")}
        runs.append(row)
        print(json.dumps(row), flush=True)
        report["file_to_file"] = runs
        (out / "gpu.json").write_text(json.dumps(report, indent=1))
    texts = []
    for source in ("iso2", "thick4"):
        profiled = out / f"profile_{source}_cnn.txt"
        profile(command(inputs[source], Path("/tmp/gpu-bench") / f"profiled_{source}.nii", "cnn"), profiled)
        texts.append(f"# one warm `medsr sr {source} --method cnn --device {DEVICE}`, cProfile, cumulative\n" + profiled.read_text())
        profiled.unlink()
    (out / "profiles.txt").write_text("\n".join(texts))
    # ONNX Runtime as the user would run it on this machine: which provider it took
    from MedSRLib import read_volume

    output = Path("/tmp/gpu-bench") / "out_iso2_onnx.nii"
    arguments = command(inputs["iso2"], output, "cnn") + ["--backend", "onnxruntime"]
    row = {"input": "iso2", "method": "cnn --backend onnxruntime", "fresh_process": fresh_process(arguments)}
    if output.exists():
        row["metadata"] = {k: v for k, v in read_volume(output).metadata.items() if k in ("inference_notes", "model")}
    report["onnxruntime_backend_run"] = row
    print(json.dumps(row), flush=True)
    (out / "gpu.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
