"""Run the benchmark scripts and write benchmarks/RESULTS.md (figure, target, machine, date).

Run: python -m benchmarks                  (or: make bench) every CPU script
     python -m benchmarks sr_quality.py    only the named scripts
     python -m benchmarks cuda_speed.py    the GPU figures (on a machine with CUDA)
The figures and logs of scripts not run are kept from the existing RESULTS.md.
"""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
SCRIPTS = [
    "sr_quality.py",
    "sr_real.py",
    "sr_speed.py",
    "style_speed.py",
    "style_quality.py",
    "pix2pix_quality.py",
    "train_speed.py",
    "colorize_quality.py",
    "engine.py",
    "png_level.py",
    "conv_kernels.py",
    "gan_toolkit.py",
    "video.py",
    "backends.py",
]
GPU_SCRIPTS = ["cuda_speed.py"]


def run_script(script: str) -> tuple[list[str], str]:
    """-> (table rows, log section) for one script."""
    print(f"== {script}", flush=True)
    r = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True)
    rows = []
    for line in r.stdout.splitlines():
        if line.startswith("FIGURE|"):
            _, name, value, unit, target = line.split("|", 4)
            rows.append(f"| {script} | {name} | {value} | {unit} | {target} |")
        else:
            print(line)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return rows, f"## {script} (exit {r.returncode}, {stamp})\n```\n{r.stdout}{r.stderr[-2000:]}```\n"


def previous_results() -> dict[str, tuple[list[str], str]]:
    """The rows and log of each script in the existing RESULTS.md."""
    if not RESULTS.is_file():
        return {}
    text = RESULTS.read_text()
    found: dict[str, tuple[list[str], str]] = {}
    for script in SCRIPTS + GPU_SCRIPTS:
        rows = [line for line in text.splitlines() if line.startswith(f"| {script} |")]
        log = re.search(rf"^## {re.escape(script)} \([^\n]*\)\n```\n.*?^```\n", text, re.S | re.M)
        found[script] = (rows, log.group(0) if log else "")
    return found


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.common import machine

    chosen = sys.argv[1:] or SCRIPTS
    unknown = sorted(set(chosen) - set(SCRIPTS + GPU_SCRIPTS))
    if unknown:
        sys.exit(f"unknown benchmark script(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS + GPU_SCRIPTS)}")
    results = previous_results()
    for script in chosen:
        results[script] = run_script(script)
    table = ["| script | figure | value | unit | target |", "|---|---|---|---|---|"]
    logs = []
    for script in SCRIPTS + GPU_SCRIPTS:
        rows, log = results.get(script, ([], ""))
        table += rows
        logs.append(log)
    today = datetime.date.today().isoformat()
    text = (
        f"# Benchmark results\n\nMachine: {machine()} (cuda_speed.py: the GPU machine its log "
        f"names). Date: {today}. Produced by `python -m benchmarks`; each log says when and "
        f"where its script ran.\n\n" + "\n".join(table) + "\n\n# Logs\n\n" + "\n".join(log for log in logs if log)
    )
    RESULTS.write_text(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
