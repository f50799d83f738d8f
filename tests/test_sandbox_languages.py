"""Every language of ``languages.toml`` in the real jail: hello, stdin, a compile (or syntax) error, a
runtime error, a timeout and the memory limit, plus what each language's table entry promises.

The network, file-system and fork attacks of each language are in the hostile suite
(``tests/test_sandbox_hostile.py``), with its host-side checks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rlvr_client import Status
from rlvr_sandbox.judge import CaseStatus, IOCase, Judge, Problem
from rlvr_sandbox.languages import load_languages, resolve
from rlvr_sandbox.pool import Execution, RunStatus, Sandbox, SandboxConfig
from rlvr_services.runtime.verifier import Task
from rlvr_services.verifiers import code as code_module
from rlvr_services.verifiers.code import CodeParams, CodeVerifier

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or os.geteuid() != 0,
    reason="the language tests need bubblewrap (bwrap) and root (per-slot uids, cgroups)",
)

LANGUAGES = load_languages()
INTERPRETED = {"python", "javascript", "bash", "ruby"}  # no compile step: a syntax error is a runtime error


@dataclass(frozen=True)
class Programs:
    """One language's programs for the six cases."""

    hello: str  # prints "hello, world"
    add: str  # reads two integers from stdin and prints their sum
    broken: str  # does not compile (or, interpreted, does not parse)
    crash: str  # raises or panics: a non-zero exit with a message on stderr
    spin: str  # loops forever
    hog: str  # allocates and touches memory without end


PROGRAMS = {
    "python": Programs(
        hello='print("hello, world")',
        add="a, b = map(int, input().split())\nprint(a + b)",
        broken="def f(:\n    pass",
        crash='raise ValueError("boom")',
        spin="while True:\n    pass",
        hog="blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 20))",
    ),
    "c": Programs(
        hello='#include <stdio.h>\nint main(void) { puts("hello, world"); return 0; }',
        add='#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b); }',
        broken="int main(void) { return undefined_name; }",
        crash='#include <stdio.h>\nint main(void) { fprintf(stderr, "boom\\n"); return 3; }',
        spin="int main(void) { volatile int x = 0; for (;;) x++; }",
        hog="#include <stdlib.h>\n#include <string.h>\n"
        "int main(void) { for (;;) { char *p = malloc(1 << 20); if (p) memset(p, 1, 1 << 20); } }",
    ),
    "cpp": Programs(
        hello='#include <iostream>\nint main() { std::cout << "hello, world" << std::endl; }',
        add="#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }",
        broken="int main() { return undefined_name; }",
        crash='#include <stdexcept>\nint main() { throw std::runtime_error("boom"); }',
        spin="int main() { volatile int x = 0; for (;;) x++; }",
        hog="#include <vector>\n#include <cstring>\n"
        "int main() { std::vector<char*> v; for (;;) { char *p = new char[1 << 20]; std::memset(p, 1, 1 << 20);"
        " v.push_back(p); } }",
    ),
    "javascript": Programs(
        hello='console.log("hello, world");',
        add='const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\n'
        "console.log(a + b);",
        broken="function f( {",
        crash='throw new Error("boom");',
        spin="for (;;) {}",
        hog="const keep = [];\nfor (;;) keep.push(Buffer.alloc(1 << 20, 1));",
    ),
    "bash": Programs(
        hello='echo "hello, world"',
        add="read -r a b\necho $((a + b))",
        broken="if then fi (",
        crash='echo boom >&2\nexit 3',
        spin="while :; do :; done",
        hog='x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nwhile :; do x="$x$x"; done',
    ),
    "ruby": Programs(
        hello='puts "hello, world"',
        add="a, b = STDIN.read.split.map(&:to_i)\nputs a + b",
        broken="def f(\n  puts 1",
        crash='raise ArgumentError, "boom"',
        spin="loop { }",
        hog='keep = []\nloop { keep << "x" * (1 << 20) }',
    ),
    "go": Programs(
        hello='package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello, world") }\n',
        add='package main\n\nimport "fmt"\n\nfunc main() {\n\tvar a, b int64\n\tfmt.Scan(&a, &b)\n'
        "\tfmt.Println(a + b)\n}\n",
        broken="package main\n\nfunc main() { undefinedName() }\n",
        crash='package main\n\nfunc main() { panic("boom") }\n',
        spin="package main\n\nfunc main() {\n\tx := 0\n\tfor {\n\t\tx++\n\t}\n}\n",
        hog="package main\n\nfunc main() {\n\tvar keep [][]byte\n\tfor {\n\t\tb := make([]byte, 1<<20)\n"
        "\t\tfor i := range b {\n\t\t\tb[i] = 1\n\t\t}\n\t\tkeep = append(keep, b)\n\t}\n}\n",
    ),
    "rust": Programs(
        hello='fn main() { println!("hello, world"); }',
        add="use std::io::Read;\nfn main() {\n    let mut s = String::new();\n"
        "    std::io::stdin().read_to_string(&mut s).unwrap();\n"
        "    let v: Vec<i64> = s.split_whitespace().map(|t| t.parse().unwrap()).collect();\n"
        '    println!("{}", v[0] + v[1]);\n}\n',
        broken='fn main() { let x: i32 = "text"; }',
        crash='fn main() { panic!("boom"); }',
        spin="fn main() { let mut x: u64 = 0; loop { unsafe { std::ptr::write_volatile(&mut x, x + 1) } } }",
        hog="fn main() { let mut keep = Vec::new(); loop { keep.push(vec![1u8; 1 << 20]); } }",
    ),
    "java": Programs(
        hello='public class Main { public static void main(String[] args) { System.out.println("hello, world"); } }',
        add="import java.util.Scanner;\npublic class Main { public static void main(String[] args) {\n"
        "  Scanner in = new Scanner(System.in);\n  System.out.println(in.nextLong() + in.nextLong());\n} }\n",
        broken="public class Main { public static void main(String[] args) { int x = } }",
        crash="public class Main { public static void main(String[] args) {\n"
        '  throw new IllegalStateException("boom");\n} }\n',
        spin="public class Main { public static void main(String[] args) { long x = 0; while (true) x++; } }",
        hog="import java.util.ArrayList;\npublic class Main { public static void main(String[] args) {\n"
        "  ArrayList<long[]> keep = new ArrayList<>();\n  while (true) keep.add(new long[1 << 17]);\n} }\n",
    ),
    "typescript": Programs(
        hello='const greeting: string = "hello, world";\nconsole.log(greeting);',
        add='const [a, b]: number[] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\n'
        "console.log(a + b);",
        broken="const x: number = ;\nfunction f( {",
        crash='function fail(message: string): never { throw new Error(message); }\nfail("boom");',
        spin="for (;;) {}",
        hog="const keep: Buffer[] = [];\nfor (;;) keep.push(Buffer.alloc(1 << 20, 1));",
    ),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(SandboxConfig(slots=2))
    try:
        yield box
    finally:
        box.close()


def test_ten_languages_with_programs_for_each() -> None:
    assert len(LANGUAGES) >= 10
    assert set(PROGRAMS) == set(LANGUAGES)
    for lang in LANGUAGES.values():
        assert lang.packages, f"{lang.name}: no Debian packages listed for scripts/system-deps.sh"
        for program in lang.required_programs():
            assert os.access(program, os.R_OK), f"{lang.name}: {program} is not installed (make install)"


@pytest.mark.parametrize(
    ("alias", "name"),
    [("sh", "bash"), ("shell", "bash"), ("rb", "ruby"), ("golang", "go"), ("rs", "rust"), ("ts", "typescript"),
     ("Java", "java"), ("node", "javascript")],
)
def test_aliases(alias: str, name: str) -> None:
    assert resolve(LANGUAGES, alias).name == name


def _run(sandbox: Sandbox, language: str, code: str, **kwargs: object) -> Execution:
    return sandbox.execute(language, code, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_hello(sandbox: Sandbox, language: str) -> None:
    run = _run(sandbox, language, PROGRAMS[language].hello, timeout_s=20.0)
    assert run.status is RunStatus.OK, run
    assert run.stdout == b"hello, world\n"
    assert run.stderr == b""


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_stdin(sandbox: Sandbox, language: str) -> None:
    judge = Judge(sandbox)
    problem = Problem(
        language=language, cases=[IOCase("2 40\n", "42\n"), IOCase("-7 7\n", "0\n"), IOCase("5 5\n", "11\n")],
        timeout_s=20.0,
    )
    verdict = judge.judge(PROGRAMS[language].add, problem)
    assert [r.status for r in verdict.results] == [CaseStatus.PASSED, CaseStatus.PASSED, CaseStatus.WRONG_ANSWER]


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_compile_or_syntax_error(sandbox: Sandbox, language: str) -> None:
    run = _run(sandbox, language, PROGRAMS[language].broken, timeout_s=20.0)
    if language in INTERPRETED:
        assert not LANGUAGES[language].compiled
        assert run.status is RunStatus.RUNTIME_ERROR, run
        assert b"syntax" in run.stderr.lower() or b"unexpected" in run.stderr.lower(), run
    else:
        assert LANGUAGES[language].compiled
        assert run.status is RunStatus.COMPILE_ERROR, run
        assert run.reason.startswith("compilation failed"), run
        assert b"main." in run.stderr or b"Main.java" in run.stderr, run  # the compiler's own message


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_runtime_error(sandbox: Sandbox, language: str) -> None:
    run = _run(sandbox, language, PROGRAMS[language].crash, timeout_s=20.0)
    assert run.status is RunStatus.RUNTIME_ERROR, run
    assert run.exit_code or run.signal, run
    assert b"boom" in run.stderr, run


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_timeout(sandbox: Sandbox, language: str) -> None:
    run = _run(sandbox, language, PROGRAMS[language].spin, timeout_s=1.0)
    assert run.status is RunStatus.TIMEOUT, run
    assert run.time_s < 3.5, run


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_memory_limit(sandbox: Sandbox, language: str) -> None:
    run = _run(sandbox, language, PROGRAMS[language].hog, timeout_s=20.0, memory_mb=128)
    assert run.status is RunStatus.MEMORY_LIMIT, run
    assert run.reason == "memory limit exceeded", run


def test_a_program_is_compiled_once(sandbox: Sandbox) -> None:
    for language in ("go", "rust", "java", "typescript"):
        before = sandbox.stats["compiles"]
        code = PROGRAMS[language].add
        for stdin in (b"1 2\n", b"3 4\n", b"5 6\n"):
            run = _run(sandbox, language, code + "\n// again\n" if language != "typescript" else code + "\n// again",
                       stdin=stdin, timeout_s=20.0)
            assert run.status is RunStatus.OK, run
        assert sandbox.stats["compiles"] - before == 1, language


def test_java_runs_a_public_class_of_any_name(sandbox: Sandbox) -> None:
    code = (
        "import java.util.*;\npublic class Solution {\n  static class Pair { int a = 20, b = 22; }\n"
        "  public static void main(String[] args) { Pair p = new Pair(); System.out.println(p.a + p.b); }\n}\n"
    )
    run = _run(sandbox, "java", code, timeout_s=20.0)
    assert run.status is RunStatus.OK, run
    assert run.stdout == b"42\n"


def test_java_heap_follows_the_memory_limit(sandbox: Sandbox) -> None:
    code = (
        "public class Main { public static void main(String[] a) {\n"
        "  System.out.println(Runtime.getRuntime().maxMemory() >> 20);\n} }\n"
    )
    small = _run(sandbox, "java", code, timeout_s=20.0, memory_mb=128)
    large = _run(sandbox, "java", code, timeout_s=20.0, memory_mb=512)
    assert small.ok and large.ok, (small, large)
    assert int(small.stdout) <= 128 * 0.75 < 512 * 0.6 <= int(large.stdout) <= 512


def test_typescript_strips_types_without_checking_them(sandbox: Sandbox) -> None:
    code = (
        'interface P { x: number }\nconst p: P = { x: 41 };\nconst wrong: number = "1" as any;\n'
        "console.log(p.x + +wrong);"
    )
    run = _run(sandbox, "typescript", code, timeout_s=20.0)
    assert run.status is RunStatus.OK, run
    assert run.stdout == b"42\n"
    broken = _run(sandbox, "typescript", PROGRAMS["typescript"].broken, timeout_s=20.0)
    assert b"main.ts(1," in broken.stderr and b"error TS" in broken.stderr, broken


def test_go_builds_offline_from_the_standard_library(sandbox: Sandbox) -> None:
    code = (
        'package main\n\nimport (\n\t"fmt"\n\t"sort"\n\t"strings"\n)\n\n'
        'func main() {\n\tw := strings.Fields("c a b")\n\tsort.Strings(w)\n\tfmt.Println(strings.Join(w, ","))\n}\n'
    )
    assert _run(sandbox, "go", code, timeout_s=30.0).stdout == b"a,b,c\n"
    remote = 'package main\n\nimport "github.com/example/nothing"\n\nfunc main() { nothing.Do() }\n'
    run = _run(sandbox, "go", remote, timeout_s=30.0)
    assert run.status is RunStatus.COMPILE_ERROR, run


@pytest.mark.parametrize(("language", "tag"), [
    ("bash", "sh"), ("ruby", "rb"), ("go", "golang"), ("rust", "rs"), ("java", "java"), ("typescript", "ts"),
])
def test_code_verifier_scores_a_fenced_program_in_each_language(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, language: str, tag: str
) -> None:
    monkeypatch.setattr(code_module, "_shared", sandbox)  # the module's jails, closed with it
    tests = [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "20 22\n", "stdout": "42\n"}]
    params = CodeParams(language=language, tests=tests, timeout_s=20.0)  # type: ignore[arg-type]
    completion = f"<think>sum them</think>\nHere:\n```{tag}\n{PROGRAMS[language].add}\n```\n"
    verdict = CodeVerifier().verify(Task("x", completion, params))
    assert verdict.status is Status.OK and verdict.score == 1.0, verdict
    wrong = CodeVerifier().verify(Task("y", f"```{tag}\n{PROGRAMS[language].hello}\n```\n", params))
    assert wrong.status is Status.OK and wrong.score == 0.0, wrong
