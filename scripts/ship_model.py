"""Ship a trained candidate: copy it into weights/ with what its benchmark measured and how it was
made added to its metadata (the person's step after scripts/retrain_shipped.py or a manual run).

The training metadata the run wrote (command, steps, train_minutes, ...) is kept; --metric adds
figures under training.metrics, --stage records an earlier stage the run started from (its
command and minutes: a model fine-tuned with --init is only reproducible with them), --note adds
a line, --training sets other training fields (e.g. a colorizer's portrait_stage), --half stores
the weights as fp16 (as `i2i convert --half`; loads as fp32).
weights/README.md is still written by hand.

Run: python scripts/ship_model.py CANDIDATE weights/NAME.safetensors [--half]
         [--metric KEY=VALUE ...] [--stage FILE] [--note TEXT] [--name NAME] [--training KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from i2i.checkpoint import load_model, save_model  # noqa: E402


def metric(value: str) -> tuple[str, float | str]:
    key, sep, number = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{value!r}: expected KEY=VALUE, e.g. testB_psnr_gain_db=0.233")
    try:
        return key, float(number)
    except ValueError:
        return key, number


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--half", action="store_true", help="store the weights as fp16")
    parser.add_argument("--metric", type=metric, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--stage", type=Path, help="the model the run started from (--init)")
    parser.add_argument("--note", default="", help="a line for training.note")
    parser.add_argument("--name", help="the model's name (default: the candidate's)")
    parser.add_argument(
        "--training",
        type=metric,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set training.KEY, e.g. portrait_stage=colorize-portrait (a colorizer's portrait model)",
    )
    args = parser.parse_args(argv)
    model = load_model(args.candidate)
    info = model.info
    training = dict(info.training)
    training["metrics"] = {**training.get("metrics", {}), **dict(args.metric)}
    if args.stage:
        earlier = load_model(args.stage).info.training
        training["init_stage"] = {k: earlier.get(k) for k in ("command", "steps", "train_minutes", "metrics")}
    training.update(dict(args.training))
    if args.note:
        training["note"] = " ".join(filter(None, [training.get("note", ""), args.note]))
    info.training = training
    if args.name:
        info.name = args.name
    save_model(args.dest, model.module, info, half=args.half)
    print(f"{args.dest}: {info.name}, {args.dest.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
