"""`medsr models` and `medsr methods`: what the catalog and the method registry hold."""

from __future__ import annotations


def add_parser(sub) -> None:
    sub.add_parser("models", help="list the model catalog")
    sub.add_parser("methods", help="list the available methods")


def cmd_models(args) -> int:
    from ..models import load_catalog

    for entry in load_catalog():
        print(f"{entry['name']} {entry['version']}  task={entry['task']}  modality={entry['modality']}  "
              f"spacing {entry['valid_spacing_mm'][0]}-{entry['valid_spacing_mm'][1]} mm  sha256 {entry['sha256'][:12]}")
        print(f"    {entry.get('summary', '')}")
        print(f"    trained on {entry['training']['data']} ({entry['training']['device']}, {entry['training']['seconds']:.0f} s)")
        for name, value in entry.get("validation", {}).items():
            print(f"    {name}: {value}")
    return 0


def cmd_methods(args) -> int:
    from ..methods import methods

    for task, title in (("sr", "super-resolution (medsr sr --method)"), ("enhance", "enhancement (medsr enhance --method/--steps)"),
                        ("segment", "segmentation (medsr segment --model)")):
        print(title)
        for m in methods(task):
            print(f"  {m.name:<20} {m.family:<10} {m.summary}")
    return 0
