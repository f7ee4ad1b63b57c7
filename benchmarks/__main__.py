"""Run every benchmark script and write benchmarks/RESULTS.md (figure, target, machine, date).

Run: python -m benchmarks   (or: make bench)
"""
from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["sr_quality.py", "sr_speed.py", "style_speed.py", "pix2pix_quality.py", "train_speed.py",
           "colorize_quality.py", "engine.py"]


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.common import machine

    rows, logs = [], []
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        r = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True)
        logs.append(f"## {script} (exit {r.returncode})\n```\n{r.stdout}{r.stderr[-2000:]}```\n")
        for line in r.stdout.splitlines():
            if line.startswith("FIGURE|"):
                _, name, value, unit, target = line.split("|", 4)
                rows.append((script, name, value, unit, target))
            else:
                print(line)
    today = datetime.date.today().isoformat()
    table = ["| script | figure | value | unit | target |", "|---|---|---|---|---|"]
    table += [f"| {s} | {n} | {v} | {u} | {t} |" for s, n, v, u, t in rows]
    text = (f"# Benchmark results\n\nMachine: {machine()}. Date: {today}. "
            f"Produced by `python -m benchmarks`.\n\n" + "\n".join(table) + "\n\n# Logs\n\n" + "\n".join(logs))
    (HERE / "RESULTS.md").write_text(text)
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
