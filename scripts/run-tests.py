#!/usr/bin/env python3
"""Runs every test meson knows of in a build directory and sums their test cases.

Each test binary is a doctest suite; its summary line gives the case counts. A binary that
crashes or fails without a summary counts as one failed case, so nothing fails silently.
Each `--extra COMMAND` is run through the shell too (e.g. the brief fuzz run); its own last line,
"N passed, N failed", is added in. Prints "N passed, N failed" last and exits non-zero on any
failure.
"""
import json
import os
import re
import subprocess
import sys

SUMMARY = re.compile(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
PLAIN = re.compile(r"^(\d+) passed, (\d+) failed$", re.MULTILINE)


def main() -> int:
    build = sys.argv[1]
    extras = [sys.argv[i + 1] for i in range(2, len(sys.argv) - 1) if sys.argv[i] == "--extra"]
    tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests", build]))
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    passed = failed = 0
    for test in tests:
        cmd = test["cmd"] + ["--no-colors"]
        timeout = test.get("timeout") or 600
        print(f"== {test['name']}", flush=True)
        try:
            run = subprocess.run(cmd, env={**env, **test.get("env", {})}, cwd=test.get("workdir"),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 errors="replace", timeout=timeout)
            output, code = run.stdout, run.returncode
        except subprocess.TimeoutExpired as e:
            output, code = (e.stdout or "") + f"\n(timed out after {timeout} s)", -1
        match = SUMMARY.search(output)
        if match:
            p, f = int(match.group(2)), int(match.group(3))
        else:
            p, f = 0, 0
        if code != 0 and f == 0:
            f = 1  # crashed, sanitizer report, or timeout: count it
        passed += p
        failed += f
        # Show everything for failures, only the summary otherwise.
        if code != 0 or f:
            print(output, flush=True)
        else:
            print(match.group(0) if match else "(no summary)", flush=True)
    for command in extras:
        print(f"== {command}", flush=True)
        run = subprocess.run(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors="replace")
        counts = PLAIN.findall(run.stdout)
        p, f = (int(counts[-1][0]), int(counts[-1][1])) if counts else (0, 0)
        if run.returncode != 0 and f == 0:
            f = 1
        passed += p
        failed += f
        print(run.stdout if (run.returncode != 0 or f) else f"{p} passed, {f} failed", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
