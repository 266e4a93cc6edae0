"""`medsr eval REFERENCE TEST`: image or label-map metrics of a test volume against a reference."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="compare a test volume with a reference on the same grid")
    p.add_argument("reference")
    p.add_argument("test")
    p.add_argument("--mask", help="foreground mask (voxels > 0); default: Otsu threshold of the reference")
    p.add_argument("--kind", choices=["auto", "image", "labels"], default="auto", help="image metrics or label-map metrics (auto: integer volumes with few values are label maps)")
    p.add_argument("--data-range", type=float, help="PSNR/SSIM data range (default: the reference's 0.5-99.5 percentile range)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def cmd_eval(args) -> int:
    from ..io import read_volume
    from ..metrics import evaluate

    reference = read_volume(args.reference)
    test = read_volume(args.test)
    mask = read_volume(args.mask) if args.mask else None
    result = evaluate(reference, test, mask, args.kind, args.data_range)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_eval_table(result))
    return 0


def _eval_table(result: dict) -> str:
    if result["kind"] == "labels":
        lines = ["label  dice    iou     hd95_mm  ref_mL    test_mL"]
        for label, m in result["labels"].items():
            lines.append(f"{label:>5}  {m['dice']:.4f}  {m['iou']:.4f}  {m['hd95_mm']:7.2f}  {m['reference_ml']:8.2f}  {m['test_ml']:8.2f}")
        lines.append(f"mean Dice {result['mean_dice']:.4f}")
        return "\n".join(lines)
    lines = [f"data range {result['data_range']:g} ({result['data_range_source']}); mask: {result['mask_source']}",
             "region       MSE          PSNR_dB  SSIM"]
    for region in ("whole", "foreground"):
        m = result[region]
        lines.append(f"{region:<11}  {m['mse']:<11.6g}  {m['psnr']:7.3f}  {m['ssim']:.4f}")
    return "\n".join(lines)
