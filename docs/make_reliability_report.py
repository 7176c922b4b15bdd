#!/usr/bin/env python3
"""Generate docs/reliability.md from the reliability tests, so the report stays true.

    python docs/make_reliability_report.py          # run the tests, rewrite docs/reliability.md
    python docs/make_reliability_report.py --check  # exit 1 if the report lists other tests than exist

The report is built from tests/test_reliability.py (faults injected),
tests/test_bad_input.py (bad inputs and the exact messages they produced) and
tests/test_properties.py (hypothesis properties): each test's docstring reads
"<what is done> -> <outcome>", and the outcome of the run is recorded next to it.
``tests/test_reliability.py::test_docs_reliability_md_is_up_to_date`` calls
``stale_entries`` and fails when a test was added, renamed or reworded without
regenerating this report.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "reliability.md"
FAULTS, BAD_INPUT, PROPERTIES, CHECK_SPECS = (ROOT / "tests" / f"test_{n}.py"
                                              for n in ("reliability", "bad_input", "properties", "checks"))
CHECKS = ROOT / "course_lib" / "checks"
SELF_TEST = "test_docs_reliability_md_is_up_to_date"  # the staleness test itself is not a row


# --------------------------------------------------------------------------- what the tests are (static)
def _test_docstrings(path: Path, arrows_only: bool = False) -> dict[str, str]:
    """test function name -> first line of its docstring (only "<what> -> <outcome>" ones if ``arrows_only``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {node.name: (ast.get_docstring(node) or node.name).splitlines()[0]
             for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
             and node.name != SELF_TEST}
    return {name: doc for name, doc in found.items() if " -> " in doc or not arrows_only}


def _bad_input_cases() -> list[tuple[str, str]]:
    """(function, bad input) of every ``Case(...)`` in tests/test_bad_input.py."""
    tree = ast.parse(BAD_INPUT.read_text(encoding="utf-8"))
    return [(node.args[0].value, node.args[1].value) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Case"
            and len(node.args) >= 2 and all(isinstance(a, ast.Constant) for a in node.args[:2])]


def _garbage_kinds() -> list[str]:
    tree = ast.parse(BAD_INPUT.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "GARBAGE":
            return [key.value for key in node.value.keys]
    return []


def _check_names() -> list[str]:
    names = []
    for path in sorted(CHECKS.glob("*.py")):
        if path.stem in ("__init__", "core"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names += [f"{path.stem}.{n.name}" for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("check_")]
    return names


def _split(docstring: str) -> tuple[str, str]:
    what, _, outcome = docstring.partition(" -> ")
    return what.strip(), outcome.strip()


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def expected_rows() -> list[str]:
    """Every row the report must contain, without the result column (what --check compares)."""
    rows = []
    for path, arrows_only in ((FAULTS, False), (PROPERTIES, False), (CHECK_SPECS, True)):
        for name, doc in _test_docstrings(path, arrows_only).items():
            what, outcome = _split(doc)
            rows.append(f"| {_cell(what)} | {_cell(outcome)} |")
    for function, bad in _bad_input_cases():
        rows.append(f"| `{_cell(function)}` | {_cell(bad)} |")
    for kind in _garbage_kinds():
        rows.append(f"| {_cell(kind)} |")
    rows += [f"`{name}`" for name in _check_names()]
    return rows


def stale_entries(report: Path = REPORT) -> list[str]:
    """Rows the report should contain but does not (empty when it is up to date)."""
    if not report.exists():
        return [f"{report} does not exist"]
    text = report.read_text(encoding="utf-8")
    return [row for row in expected_rows() if row not in text]


# --------------------------------------------------------------------------- run the tests
class _Collector:
    """A pytest plugin that records each test's parameters, outcome and recorded properties."""

    def __init__(self):
        self.items, self.outcomes, self.properties, self.reasons = {}, {}, {}, {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            self.items[item.nodeid] = item

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.outcomes[report.nodeid] = report.outcome
            if report.skipped and isinstance(report.longrepr, tuple):
                self.reasons[report.nodeid] = report.longrepr[2].removeprefix("Skipped: ")
            self.properties[report.nodeid] = dict(report.user_properties)


def _summary(outcomes: list[str]) -> str:
    counts = {o: outcomes.count(o) for o in ("passed", "failed", "skipped") if outcomes.count(o)}
    if list(counts) == ["passed"]:
        return f"passed ({len(outcomes)}/{len(outcomes)})" if len(outcomes) > 1 else "passed"
    return ", ".join(f"{n} {o}" for o, n in counts.items())


def run_tests() -> _Collector:
    import pytest

    collector = _Collector()
    selected = " or ".join(_test_docstrings(CHECK_SPECS, arrows_only=True))
    code = pytest.main([str(FAULTS), str(BAD_INPUT), str(PROPERTIES), "-q", "-p", "no:cacheprovider",
                        "--deselect", f"tests/test_reliability.py::{SELF_TEST}"],
                       plugins=[collector])
    if code not in (0, 1):
        sys.exit(f"pytest could not run the reliability tests (exit code {code})")
    code = pytest.main([str(CHECK_SPECS), "-q", "-p", "no:cacheprovider", "-k", selected],
                       plugins=[collector])
    if code not in (0, 1):
        sys.exit(f"pytest could not run the reliability tests (exit code {code})")
    return collector


def render(collector: _Collector) -> str:
    by_function = defaultdict(list)
    for nodeid, outcome in collector.outcomes.items():
        path, _, rest = nodeid.partition("::")
        by_function[(Path(path).name, rest.split("[")[0])].append(outcome)
    all_outcomes = list(collector.outcomes.values())

    def count(test_file):  # test results (each parameter set counts once) from one file
        return sum(1 for nodeid in collector.outcomes if Path(nodeid.partition("::")[0]).name == test_file)

    lines = ["# Reliability report", "",
             "Generated by `python docs/make_reliability_report.py` from the tests; do not edit by hand.",
             "`tests/test_reliability.py::test_docs_reliability_md_is_up_to_date` fails when a test is",
             "added, renamed or reworded without regenerating this file.", "",
             f"**{len(all_outcomes)} checks: {_summary(all_outcomes)}.** Every test also runs in CI "
             "(`python3 tasks.py test`), with the network blocked.", "",
             f"**{count('test_reliability.py')} faults injected** ({len(_test_docstrings(FAULTS))} kinds), "
             f"**{len(_bad_input_cases())} bad inputs tried**, {count('test_checks.py')} wrong answers given to the "
             f"exercise checks, {sum('answer_garbage' in n for n in collector.outcomes)} (garbage, check) pairs, "
             f"{count('test_properties.py')} properties.", ""]

    def function_table(path, title, header, arrows_only=False, intro=None):
        lines.extend([f"## {title}", "", *([intro, ""] if intro else []),
                      f"| {header} | outcome (asserted) | result |", "|---|---|---|"])
        for name, doc in _test_docstrings(path, arrows_only).items():
            what, outcome = _split(doc)
            result = _summary(by_function.get((path.name, name), [])) or "not run"
            reasons = {r for nodeid, r in collector.reasons.items() if nodeid.split("::")[-1].split("[")[0] == name}
            if reasons:
                result += f" ({'; '.join(sorted(reasons))})"
            lines.append(f"| {_cell(what)} | {_cell(outcome)} | {result} |")
        lines.append("")

    function_table(FAULTS, "Faults injected", "fault injected")

    lines.extend(["## Bad input", "",
                  "Each row is one common mistake given to a public function; the last column is the message "
                  "the student sees.", "",
                  "| function | bad input | result | error raised |", "|---|---|---|---|"])
    bad_nodes = {nodeid: item for nodeid, item in collector.items.items()
                 if "test_bad_input_raises" in nodeid and hasattr(item, "callspec")}
    by_case = {(item.callspec.params["case"].function, item.callspec.params["case"].bad_input): nodeid
               for nodeid, item in bad_nodes.items()}
    for function, bad in _bad_input_cases():
        nodeid = by_case.get((function, bad))
        item = collector.items.get(nodeid)
        outcome = collector.outcomes.get(nodeid, "not run")
        message = collector.properties.get(nodeid, {}).get("message", "")
        error = item.callspec.params["case"].error.__name__ if item else ""
        lines.append(f"| `{_cell(function)}` | {_cell(bad)} | {outcome} | {error}: {_cell(message)} |")
    lines.append("")

    lines.extend(["## Exercise checks given garbage", "",
                  "Every check in `course_lib/checks/` is called with each kind of garbage and must answer with a "
                  "failed `CheckResult` and guidance, never a traceback.", "",
                  "| garbage passed to the check | result |", "|---|---|"])
    garbage = defaultdict(list)
    for nodeid, item in collector.items.items():
        if "test_exercise_checks_answer_garbage" in nodeid and nodeid in collector.outcomes:
            garbage[item.callspec.id.split("-", 1)[-1]].append(collector.outcomes[nodeid])
    for kind in _garbage_kinds():
        lines.append(f"| {_cell(kind)} | {_summary(garbage.get(kind, [])) or 'not run'} |")
    lines.extend(["", "Checks covered: " + ", ".join(f"`{name}`" for name in _check_names()) + ".", ""])

    function_table(CHECK_SPECS, "Wrong answers the exercise checks must not accept", "wrong answer given to a check",
                   arrows_only=True, intro="Answers that look right, or run where the mistake is hidden (inside "
                                           "`torch.no_grad()`), and must still fail.")
    function_table(PROPERTIES, "Properties (hypothesis, 40 derandomized examples each)", "property")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_entries()
        for row in stale:
            print(f"missing from docs/reliability.md: {row}")
        return 1 if stale else 0
    collector = run_tests()
    REPORT.write_text(render(collector), encoding="utf-8")
    failed = [nodeid for nodeid, outcome in collector.outcomes.items() if outcome == "failed"]
    print(f"wrote {REPORT.relative_to(ROOT)} ({len(collector.outcomes)} results, {len(failed)} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
