#!/usr/bin/env python3
"""Runs every test meson knows of in a build directory and sums their test cases.

Each test binary is a doctest suite; its summary line gives the case counts. A binary that
crashes or fails without a summary counts as one failed case, so nothing fails silently.
Prints "N passed, N failed" last and exits non-zero on any failure.
"""
import json
import os
import re
import subprocess
import sys

SUMMARY = re.compile(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")


def main() -> int:
    build = sys.argv[1]
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
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
