#!/usr/bin/env bash
# What the lent GPU machine ran (device tool, one call): the GPU benchmark (gpu_bench.py), then the two
# data-consistent fine-tunings side by side (the small networks leave the GPU mostly idle, so they share it; each
# has 7 processes making its pairs). Usage, from the repository root there:
#   bash Testing/Benchmarks/gpu/gpu_run.sh OUT DATA_IN [TRAIN_SECONDS]
# DATA_IN holds a_3t18yo.nii.xz (io.public_heads.load_head('3t18yo') as int16 NIfTI, xz-compressed to travel) and
# z_mni305.nii.gz (FreeSurfer's mni305.cor.mgz as NIfTI); the MNI T1's axial slices k < 112 are cut here from the
# bundled sample. TRAIN_SECONDS 0: the benchmark alone. OUT gets gpu.json, profiles.txt, log.txt and thick/ and iso/ checkpoint folders.
set -uo pipefail
OUT=$1; DATA_IN=$2; SECONDS_TRAIN=${3:-290}
DATA=/tmp/gpu-data; mkdir -p "$DATA" "$OUT"
python3 - "$DATA_IN" "$DATA" <<'PY'
import lzma, sys
from pathlib import Path
import numpy as np
from MedSRLib import read_volume, write_volume
from MedSRLib.geometry import Grid
from MedSRLib.sample_data import sample_path
source, data = Path(sys.argv[1]), Path(sys.argv[2])
(data / "a_3t18yo.nii").write_bytes(lzma.decompress((source / "a_3t18yo.nii.xz").read_bytes()))
(data / "z_mni305.nii.gz").write_bytes((source / "z_mni305.nii.gz").read_bytes())
t1 = read_volume(sample_path("t1")); g = t1.grid
write_volume(t1.with_array(np.ascontiguousarray(t1.array[:, :, :112]), Grid((g.size[0], g.size[1], 112), g.spacing, g.origin, g.direction)),
             data / "b_mni_t1_below_k112.nii.gz")
PY
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
timeout 210 python3 Testing/Benchmarks/gpu/gpu_bench.py "$OUT" "$DATA" 2>&1 | tee "$OUT/log.txt"
[ "$SECONDS_TRAIN" -gt 0 ] || exit 0  # the benchmark alone
FILES=("$DATA/a_3t18yo.nii" "$DATA/b_mni_t1_below_k112.nii.gz" "$DATA/z_mni305.nii.gz")
DEVICE=$(python3 -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
COMMON=(--consistent --validate-every 1000 --device "$DEVICE" --quiet)
OMP_NUM_THREADS=1 timeout "$SECONDS_TRAIN" python3 -m MedSRLib train sr "$OUT/thick" --data "${FILES[@]}" --kind thick-slice \
  --init brain-sr-thick --steps "${THICK_STEPS:-4000}" --batch 32 --learning-rate 2e-4 --workers 7 "${COMMON[@]}" > "$OUT/thick.log" 2>&1 &
OMP_NUM_THREADS=1 timeout "$SECONDS_TRAIN" python3 -m MedSRLib train sr "$OUT/iso" --data "${FILES[@]}" --kind isotropic \
  --init brain-sr-iso --steps "${ISO_STEPS:-3000}" --batch 16 --learning-rate 1e-4 --workers 7 "${COMMON[@]}" > "$OUT/iso.log" 2>&1 &
wait
for run in thick iso; do echo "== $run"; cat "$OUT/$run.log"; rm -f "$OUT/$run.log"; done | tee -a "$OUT/log.txt"
ls -la "$OUT" "$OUT/thick" "$OUT/iso"
