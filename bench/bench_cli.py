"""How fast the command line answers: `stripe-cio --help` and `stripe-cio version`.

    .venv/bin/python bench/bench_cli.py --runs 7

Each command runs `--runs` times in a fresh interpreter (as a user's shell starts it); the
figure is the median wall time. Baselines, in the same run: `prefect --help` and
`prefect version`, the command line of the tool our users run beside this one, and an
interpreter that does nothing (the floor no Python command line can go under). The last line
has every median and the ratios to Prefect's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

BIN = Path(sys.executable).parent


def wall_time(command: list[str], runs: int) -> float:
    """The median wall time of `command` over `runs` fresh processes, output discarded."""
    times = []
    env = {**os.environ, "COLUMNS": "100"}
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    commands = {
        "floor": [sys.executable, "-c", "pass"],
        "help": [str(BIN / "stripe-cio"), "--help"],
        "version": [str(BIN / "stripe-cio"), "version"],
        "prefect_help": [str(BIN / "prefect"), "--help"],
        "prefect_version": [str(BIN / "prefect"), "version"],
    }
    figures = {}
    for name, command in commands.items():
        figures[name] = wall_time(command, args.runs)
        print(f"{name}: median {figures[name]:.3f} s of {args.runs}", flush=True)
    print(
        f"runs={args.runs} floor={figures['floor']:.3f}s help={figures['help']:.3f}s "
        f"version={figures['version']:.3f}s prefect_help={figures['prefect_help']:.3f}s "
        f"prefect_version={figures['prefect_version']:.3f}s "
        f"help_ratio={figures['prefect_help'] / figures['help']:.1f}x "
        f"version_ratio={figures['prefect_version'] / figures['version']:.1f}x"
    )


if __name__ == "__main__":
    main()
