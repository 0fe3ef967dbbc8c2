"""Commands about model files: ``info``."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["register"]


def register(sub) -> None:
    """Add the command's parser to the ``neuralpoly`` subcommands."""
    i = sub.add_parser("info", help="describe a model file")
    i.add_argument("model", type=Path)
    i.add_argument("--json", action="store_true")
    i.set_defaults(run=cmd_info)


def cmd_info(args) -> int:
    from ..network.modelfile import load_model_with_meta
    net, meta = load_model_with_meta(args.model)
    info = {"dim": net.dim, "widths": list(net.widths),
            "activations": [l.activation.to_dict() for l in net.layers],
            "output": net.output.name, "bias_free": net.is_bias_free,
            "piecewise_linear": net.is_piecewise_linear, "degree": net.degree, "meta": meta}
    if args.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k}: {v}")
    return 0
