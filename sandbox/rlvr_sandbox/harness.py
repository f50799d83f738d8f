"""Test harnesses: the programs that run a solution against assert-style tests or function calls.

The protocol keeps the expected answers and the pass signal out of the solution's reach:

- The harness starts first and reads its whole spec from stdin (a random nonce, the test program or
  the call to make) *before* the solution's code is loaded; the solution then sees an empty stdin.
- The solution is a separate file, loaded by the harness. The test program is never on disk.
- Results are lines ``<nonce> <json>`` on stdout. The solution's own prints go to stdout too, but
  without the nonce they cannot pass for a result: ``exit(0)`` before the asserts or a forged
  "PASS" line yields no result line, which is a failure.
- Function-call values are sent back as JSON and compared on the host: expected values never
  enter the jail, and an object with an always-true ``__eq__`` does not survive JSON.
- In assert mode, with ``plain_returns`` (default), every function the solution defines is wrapped
  so that a return value that is not plain data (a user-defined class, a subclass of a builtin) fails
  the test; the test program runs with a copy of the builtins taken before the solution ran, so
  monkeypatching ``builtins.abs`` or ``isinstance`` does not change what the asserts see.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

PYTHON_HARNESS = r'''
def _rlvr_harness():
    import builtins, json, os, sys, traceback, types
    spec = json.loads(sys.stdin.buffer.read())
    nonce = spec.pop("nonce")
    out = os.dup(1)
    # everything the harness uses after the solution has run is bound now, before it can be patched
    write, dumps, exc_info, fmt_exc = os.write, json.dumps, sys.exc_info, traceback.format_exception_only
    type_, all_, isinstance_, getattr_, dict_ = type, all, isinstance, getattr, dict
    safe_builtins = dict(vars(builtins))
    plain_scalars = (int, float, str, bool, type(None), bytes, complex)

    def report(obj):
        try:
            text = dumps(obj, allow_nan=True)
        except (TypeError, ValueError) as exc:
            text = dumps({"ok": False, "error": "the return value is not JSON data: %s" % exc})
        write(out, (nonce + " " + text + "\n").encode())

    def plain(value, depth=0):
        kind = type_(value)
        if kind in plain_scalars:
            return True
        if depth > 100:
            return False
        if kind in (list, tuple, set, frozenset):
            return all_(plain(v, depth + 1) for v in value)
        if kind is dict_:
            return all_(plain(k, depth + 1) and plain(v, depth + 1) for k, v in value.items())
        return False

    def guarded(fn):
        def call(*args, **kwargs):
            value = fn(*args, **kwargs)
            if not plain(value):
                raise AssertionError("returned a %s, not plain data" % type(value).__name__)
            return value
        call.__name__ = getattr(fn, "__name__", "candidate")
        call.__wrapped__ = fn
        return call

    sys.stdin = open(os.devnull)
    try:
        with open("solution.py", encoding="utf-8", errors="surrogateescape") as fh:
            source = fh.read()
        ns = {"__name__": "solution", "__builtins__": builtins}
        exec(compile(source, "solution.py", "exec"), ns)
        if spec["mode"] == "call":
            first, *rest = spec["name"].split(".")
            target = ns[first]
            if rest and isinstance_(target, type_):
                target = target()  # "Solution.twoSum": a method of a fresh instance
            for part in rest:
                target = getattr_(target, part)
            value = target(*spec["args"], **spec["kwargs"])
            report({"ok": True, "value": value} if plain(value) else
                   {"ok": False, "error": "returned a %s, not plain data" % type(value).__name__})
            return
        if spec["plain_returns"]:
            for name, value in list(ns.items()):
                if isinstance_(value, types.FunctionType) and value.__globals__ is ns:
                    ns[name] = guarded(value)
        tests = dict(ns)
        tests["__builtins__"] = safe_builtins
        tests["__name__"] = "__main__"
        exec(compile(spec["test_code"], "test.py", "exec"), tests)
        if spec["entry_point"]:
            tests["check"](tests[spec["entry_point"]])
        report({"ok": True})
    except BaseException:
        kind, exc, _ = exc_info()
        report({"ok": False, "error": "".join(fmt_exc(kind, exc)).strip()[-2000:]})


_rlvr_harness()
'''

JS_HARNESS = r"""
(async () => {
  const fs = require('fs');
  const vm = require('vm');
  const spec = JSON.parse(fs.readFileSync(0, 'utf8'));
  const nonce = spec.nonce;
  const write = fs.writeSync, stringify = JSON.stringify;
  const report = (obj) => {
    let text;
    try { text = stringify(obj); } catch (e) { text = stringify({ok: false, error: 'the value is not JSON data'}); }
    write(1, nonce + ' ' + text + '\n');
  };
  try {
    globalThis.require = require;
    globalThis.module = module;
    vm.runInThisContext(fs.readFileSync('solution.js', 'utf8'), {filename: 'solution.js'});
    if (spec.mode === 'call') {
      let value = vm.runInThisContext(spec.name)(...spec.args);
      if (value && typeof value.then === 'function') value = await value;
      report({ok: true, value: value === undefined ? null : value});
    } else {
      vm.runInThisContext(spec.test_code, {filename: 'test.js'});
      if (spec.entry_point) {
        let done = vm.runInThisContext('check')(vm.runInThisContext(spec.entry_point));
        if (done && typeof done.then === 'function') await done;
      }
      report({ok: true});
    }
  } catch (e) {
    report({ok: false, error: String((e && e.stack) || e).slice(0, 2000)});
  }
})();
"""


@dataclass(frozen=True)
class Harness:
    """How one language runs harnessed tests: the harness program and the solution's file name."""

    program: str
    solution_file: str


HARNESSES = {
    "python": Harness(PYTHON_HARNESS, "solution.py"),
    "javascript": Harness(JS_HARNESS, "solution.js"),
}


def make_spec(mode: str, **fields: Any) -> tuple[str, bytes]:
    """A fresh nonce and the stdin the harness reads."""
    nonce = secrets.token_hex(16)
    return nonce, json.dumps({"nonce": nonce, "mode": mode, **fields}).encode()


def read_results(stdout: bytes, nonce: str) -> list[dict[str, Any]]:
    """The harness's result lines (those that start with the nonce), decoded."""
    prefix = nonce.encode() + b" "
    out = []
    for line in stdout.splitlines():
        if line.startswith(prefix):
            try:
                value = json.loads(line[len(prefix) :])
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
    return out
