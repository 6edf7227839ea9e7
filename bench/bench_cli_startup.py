"""Startup time of the CLI (issue 15: target under 1 s for `--help`, `validate --offline`, `releases`).

`python bench/bench_cli_startup.py [--runs 5] [--as-is] [--root CHECKOUT]` runs each command `--runs`
times, each in a fresh Python process, after one warm-up run, and prints the median wall-clock and CPU
(user + sys) seconds as a Markdown table, with the machine (nproc, CPU model, load average).
`--root` measures another checkout's package (e.g. an older commit unpacked with `git archive`).

Bytecode: by default the runs use a private bytecode cache (PYTHONPYCACHEPREFIX in a temporary
folder, filled by the warm-up run), as an installed package has after its first run. `--as-is` keeps
the caller's environment instead (e.g. PYTHONDONTWRITEBYTECODE=1 with no cache: every run compiles
every imported module from source, which is what some sandboxes do).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the `synth-pipelines` script runs (pyproject's entry point), without an installed script.
ENTRY = "from synth_pipelines.cli import main; main()"
# The demo spec: a dg defs.yaml now, a plain file in older checkouts.
DEMO_SPECS = ["synth_pipelines/defs/datasets/demo_loans/defs.yaml", "assets/datasets/demo_loans.yaml"]


def commands(root: Path) -> dict[str, list[str]]:
    demo = next(spec for spec in DEMO_SPECS if (root / spec).is_file())
    return {"synth-pipelines --help": ["--help"],
            f"synth-pipelines validate --offline {demo}": ["validate", "--offline", demo],
            "synth-pipelines releases": ["releases"]}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed_run(args: list[str], env: dict[str, str], root: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh `synth-pipelines ARGS` in `root`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", ENTRY, *args], env=env, cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{args} exited {done.returncode}: {done.stderr.strip()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--as-is", action="store_true", help="keep the environment's bytecode settings")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    options = parser.parse_args()
    root = options.root.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(root), "SYNTH_PIPELINES_HOME": str(Path(tmp) / "home")}
        if not options.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        print(f"checkout: {root}")
        nproc, load = len(os.sched_getaffinity(0)), os.getloadavg()[0]
        bytecode = "as the environment has it" if options.as_is else "cached (private PYTHONPYCACHEPREFIX, warm)"
        print(f"machine: nproc {nproc}, {cpu_model()}, load average {load:.2f} at start; "
              f"Python {platform.python_version()}; bytecode: {bytecode}")
        print(f"\n| command | median wall s ({options.runs} runs) | median CPU s | runs (wall s) |\n|---|---|---|---|")
        for name, args in commands(root).items():
            timed_run(args, env, root)  # warm-up: fills the bytecode cache and the OS file cache
            runs = [timed_run(args, env, root) for _ in range(options.runs)]
            walls = [w for w, _ in runs]
            print(f"| `{name}` | {statistics.median(walls):.2f} | {statistics.median(c for _, c in runs):.2f} | "
                  + ", ".join(f"{w:.2f}" for w in walls) + " |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
