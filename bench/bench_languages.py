"""Benchmark: what a run costs in each sandbox language, beside the same program run bare on the host.

    .venv/bin/python bench/bench_languages.py [--runs 40 --languages go,java --json PATH]

For every language of ``languages.toml``, one "hello" program, measured in the same run, one run at a time:

  * jail: ``Sandbox.execute`` (a warm jail, the program compiled once beforehand: the cached binary is reused),
    wall time of the call;
  * bare: the same compiled program (or the interpreter on the source) as a plain subprocess on the host, in
    a temporary directory, with the language's environment: the language's own start-up;
  * the jail's overhead over bare (median difference), and the ratio;
  * ``python3 -I -S -c pass`` as a subprocess: the cost of the cheapest interpreter start, for scale.

Rounds interleave the three, so load on this machine (2 cores, shared) hits them alike. Medians and p90
are printed per language; the compile time (once per distinct program, the jail's) is shown beside.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from rlvr_sandbox.languages import Language, load_languages
from rlvr_sandbox.pool import Sandbox, SandboxConfig
from rlvr_sandbox.slot import PATH

HELLO = {
    "python": 'print("hello")',
    "c": '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n',
    "cpp": '#include <iostream>\nint main() { std::cout << "hello" << std::endl; }\n',
    "javascript": 'console.log("hello");',
    "bash": "echo hello",
    "ruby": 'puts "hello"',
    "go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
    "rust": 'fn main() { println!("hello"); }\n',
    "java": 'public class Main { public static void main(String[] a) { System.out.println("hello"); } }\n',
    "typescript": 'const s: string = "hello";\nconsole.log(s);\n',
}
ENV = {"PATH": PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare_bare(lang: Language, code: str, where: Path) -> list[str]:
    """The program made ready to run on the host, in ``where``: its argv."""
    (where / lang.source).write_text(code)
    if lang.compiled:
        done = subprocess.run(lang.compile_argv(), cwd=where, env=host_env(lang, where), capture_output=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{lang.name}: the host compile failed: {done.stderr[-500:]!r}")
    return lang.run_argv()


def timed_subprocess(argv: list[str], cwd: Path, env: dict[str, str], expect: bytes) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=60)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or done.stdout != expect:
        raise RuntimeError(f"{argv}: {done.returncode} {done.stdout[-200:]!r} {done.stderr[-300:]!r}")
    return elapsed


def host_env(lang: Language, where: Path) -> dict[str, str]:
    """The language's environment on the host, its /tmp paths moved into ``where``."""
    env = lang.environment({**ENV, "HOME": str(where), "TMPDIR": str(where)})
    env.update({k: str(where / v.removeprefix("/tmp/")) for k, v in lang.env if v.startswith("/tmp/")})
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40, help="timed runs per language and path")
    parser.add_argument("--languages", default="", help="comma-separated names (default: every language)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    languages = load_languages()
    names = [n for n in (args.languages.split(",") if args.languages else languages) if n]
    sandbox = Sandbox(SandboxConfig(slots=1))
    rows: list[dict[str, Any]] = []
    try:
        sandbox.warm_up()
        print(f"{'language':<11} {'compile s':>9} {'jail ms p50':>11} {'p90':>7} {'bare ms p50':>11} {'p90':>7} "
              f"{'overhead ms':>11} {'ratio':>6} {'python -I -S ms':>15}")
        for name in names:
            lang = languages[name]
            code = HELLO[name]
            started = time.perf_counter()
            first = sandbox.execute(lang, code, timeout_s=60.0)
            compile_s = time.perf_counter() - started
            if not first.ok or first.stdout.strip() != b"hello":
                raise RuntimeError(f"{name}: {first}")
            with tempfile.TemporaryDirectory() as tmp:
                where = Path(tmp)
                argv = prepare_bare(lang, code, where)
                env = host_env(lang, where)
                jail: list[float] = []
                bare: list[float] = []
                python: list[float] = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    run = sandbox.execute(lang, code, timeout_s=60.0)
                    jail.append(time.perf_counter() - t0)
                    if not run.ok:
                        raise RuntimeError(f"{name}: {run}")
                    bare.append(timed_subprocess(argv, where, env, b"hello\n"))
                    python.append(timed_subprocess(["/usr/bin/python3", "-I", "-S", "-c", "pass"], where, ENV, b""))
            row = {
                "language": name, "compile_s": round(compile_s if lang.compiled else 0.0, 3),
                "jail_ms_p50": statistics.median(jail) * 1e3, "jail_ms_p90": pct(jail, 0.9) * 1e3,
                "bare_ms_p50": statistics.median(bare) * 1e3, "bare_ms_p90": pct(bare, 0.9) * 1e3,
                "overhead_ms": statistics.median(j - b for j, b in zip(jail, bare, strict=True)) * 1e3,
                "python_ms_p50": statistics.median(python) * 1e3,
            }
            row["ratio"] = row["jail_ms_p50"] / row["bare_ms_p50"]
            rows.append(row)
            print(f"{name:<11} {row['compile_s']:>9.2f} {row['jail_ms_p50']:>11.1f} {row['jail_ms_p90']:>7.1f} "
                  f"{row['bare_ms_p50']:>11.1f} {row['bare_ms_p90']:>7.1f} {row['overhead_ms']:>11.1f} "
                  f"{row['ratio']:>6.2f} {row['python_ms_p50']:>15.1f}", flush=True)
    finally:
        sandbox.close()
    print(f"(runs {args.runs} per path, one at a time, interleaved; cpus {os.cpu_count()}; "
          "compile s: the jail's one compile of the program, 0 for interpreted languages)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
