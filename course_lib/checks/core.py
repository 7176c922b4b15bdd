"""The check engine: run the student's function and the reference on fresh random inputs.

On a mismatch the engine runs each known *mistake* (a deliberately wrong
implementation of the same function) on the same inputs; if the student's output
matches one, the student gets that mistake's message. Otherwise it tries two
generic diagnoses (a flipped sign, a constant factor such as mean vs sum), each named
only when every trial agrees on it, before a "wrong values" report that says where and by
how much the values differ, without guessing a cause. Nothing the student passes in -- ``None``, a
function that raises, calls ``sys.exit``, never returns or returns the wrong type --
escapes as a traceback from inside the checker: every outcome is a ``CheckResult``
with guidance.

The checker cannot be fooled by where it runs: student code always runs with
gradients enabled (also inside a caller's ``torch.no_grad()``), on copies of the
inputs (an input changed in place is reported), and within ``TIME_LIMIT_S``.
"""
from __future__ import annotations

import contextlib
import copy
import ctypes
import math
import numbers
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

__all__ = ["Mistake", "CheckResult", "Diagnosis", "check_function", "values_match", "run_student", "single_thread",
           "reported", "wrong_kind", "require_function",
           "TIME_LIMIT_S"]

TIME_LIMIT_S = 10.0  # per call of the student's function; every exercise runs in milliseconds


class Diagnosis(Exception):
    """Raised by an ``observe`` function to fail the check with a specific message."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name, self.message = name, message


class TimeLimitExceeded(BaseException):  # BaseException: a student's `except Exception` cannot swallow it
    """The student's function ran longer than the time limit."""


def run_student(fn: Callable, *args, time_limit_s: float | None = None):
    """``fn(*args)`` with gradients enabled and a time limit (default ``TIME_LIMIT_S``; ``TimeLimitExceeded``).

    In the main thread on Unix an alarm interrupts the student's code; elsewhere the call runs in
    a helper thread, and when the time is up ``TimeLimitExceeded`` is raised inside that thread too,
    so a loop that never ends does not keep a core busy for the rest of the session.
    """
    time_limit_s = TIME_LIMIT_S if time_limit_s is None else time_limit_s
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        def expire(signum, frame):
            raise TimeLimitExceeded()

        previous = signal.signal(signal.SIGALRM, expire)
        outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, time_limit_s)
        started = time.monotonic()
        try:
            with torch.enable_grad():
                return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer_delay:  # someone else's timer was running: put it back
                signal.setitimer(signal.ITIMER_REAL, max(outer_delay - (time.monotonic() - started), 1e-3),
                                 outer_interval)
    outcome = {}

    def call():
        try:
            with torch.enable_grad():
                outcome["value"] = fn(*args)
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    worker = threading.Thread(target=call, daemon=True, name="student-code")
    worker.start()
    worker.join(time_limit_s)
    if worker.is_alive():
        _stop_thread(worker)
        raise TimeLimitExceeded()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _stop_thread(worker: threading.Thread, wait_s: float = 1.0) -> None:
    """Raise ``TimeLimitExceeded`` inside ``worker`` (at its next Python instruction) and wait for it.

    CPython's ``PyThreadState_SetAsyncExc`` is the only way to stop a thread from outside; code
    stuck inside one long C call (a huge matrix product) stops when that call returns.
    """
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(TimeLimitExceeded))
    worker.join(wait_s)


def _tensors(value, where: str):
    """(where, tensor) for every tensor in an argument, nested lists/tuples/dicts included."""
    if isinstance(value, torch.Tensor):
        yield where, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, f"{where}[{key!r}]")


def _changed_inputs(before, after, names: dict[int, str]) -> list[str]:
    """Which arguments (by name) the student's function changed in place."""
    changed = []
    for i, (old_arg, new_arg) in enumerate(zip(before, after)):
        label = names.get(i, f"argument {i + 1}")
        for (where, old), (_, new) in zip(_tensors(old_arg, label), _tensors(new_arg, label)):
            if old.shape != new.shape or not torch.equal(old.detach(), new.detach()):
                changed.append(where)
    return changed


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``implementation`` reproduces it, ``message`` explains it."""

    name: str
    implementation: Callable
    message: str


@dataclass
class CheckResult:
    passed: bool
    message: str
    name: str = "check"
    diagnosis: str | None = None  # "correct", a Mistake's name, or a generic diagnosis
    details: dict = field(default_factory=dict)

    def __bool__(self):
        return self.passed

    def __str__(self):
        mark = "✅" if self.passed else "❌"
        return f"{mark} {self.name}: {self.message}"

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


def reported(result: CheckResult, verbose: bool = True) -> CheckResult:
    """Print ``result`` (the line the student sees) when ``verbose``, and return it."""
    if verbose:
        print(result)
    return result


def wrong_kind(value, kind: type, expected: str, name: str, diagnosis: str = "not_a_model",
               verbose: bool = True) -> CheckResult | None:
    """The guard of every "train it" check: None when ``value`` is a ``kind``, else the failed (reported)
    result "expected {expected}, got {its type}."."""
    if isinstance(value, kind):
        return None
    return reported(CheckResult(False, f"expected {expected}, got {type(value).__name__}.", name, diagnosis), verbose)


def require_function(value, name: str) -> None:
    """A "train it" helper's guard: ``TypeError`` "{name} must be your function, got {its type}" unless callable."""
    if not callable(value):
        raise TypeError(f"{name} must be your function, got {type(value).__name__}")


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def _parameter_names(fn) -> dict[int, str]:
    """Argument index -> the reference's parameter name, for messages."""
    import inspect

    try:
        return dict(enumerate(inspect.signature(fn).parameters))
    except (TypeError, ValueError):
        return {}


def values_match(a, b, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Same structure and (close) values: tensors, numbers, sequences, dicts."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
            return False
        return bool(torch.allclose(a.detach().double(), b.detach().double(), rtol=rtol, atol=atol, equal_nan=False))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_match(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_match(a[k], b[k], rtol, atol) for k in a)
    return a == b


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    try:
        shown = repr(value)
    except Exception:  # a student's object whose repr fails
        shown = "(unprintable)"
    return f"{type(value).__name__} {shown}"[:120]


def _safely(diagnose, *args):
    """Run a diagnosis on the student's output; if it raises, there is no diagnosis (None)."""
    try:
        return diagnose(*args)
    except Exception:
        return None


def _structure_problem(got, expected) -> str | None:
    """A shape/type/dtype difference, explained, or None if the structures agree."""
    if got is None and expected is not None:
        return "your function returned None. Did you forget the `return` statement?"
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor, got {_describe(got)}."
        if got.shape != expected.shape:
            hint = ""
            if got.numel() == 1 and expected.numel() == 1:
                hint = " (a scalar either way: check for an extra or missing dimension)"
            elif expected.ndim == 0 and got.ndim > 0:
                hint = " -- the result should be reduced to a single number (sum or mean over the batch?)."
            elif got.ndim == 0 and expected.ndim > 0:
                hint = " -- you reduced too much: keep one value per example."
            return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}{hint}"
        if got.dtype != expected.dtype and not (got.is_floating_point() and expected.is_floating_point()):
            return f"wrong dtype: expected {expected.dtype}, got {got.dtype}."
        return None
    if isinstance(expected, bool):
        return None if isinstance(got, bool) else f"expected True or False, got {_describe(got)}."
    if isinstance(expected, int) and not isinstance(got, numbers.Integral) and not (isinstance(got, float) and got.is_integer()):
        return f"expected an integer, got {_describe(got)}. Sizes are whole numbers: use // for the division."
    if isinstance(expected, (int, float)) and not isinstance(got, numbers.Real):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            return None
        return f"expected a number, got {_describe(got)}."
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"expected a {type(expected).__name__} of {len(expected)} items, got {_describe(got)}."
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}."
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _structure_problem(g, e)
            if problem:
                return f"item {i}: {problem}"
    return None


def _as_float_tensor(value):
    if isinstance(value, torch.Tensor):
        return value.detach().double()
    if isinstance(value, (int, float)):
        return torch.tensor(float(value), dtype=torch.double)
    return None


def _generic_diagnosis(cases, rtol, atol) -> tuple[str, str] | None:
    """A flipped sign or a constant factor, named only when *every* trial agrees on it.

    One wrong number always has *some* ratio to the right one, so a single trial is no evidence of a
    constant factor: the trials (different shapes and scales) must all show the same sign flip, or
    the same ratio, before the message names that cause.
    """
    pairs = [(_as_float_tensor(got), _as_float_tensor(expected)) for _, expected, got in cases]
    if len(pairs) < 2 or any(g is None or e is None or g.shape != e.shape or not torch.isfinite(g).all()
                             or not torch.isfinite(e).all() for g, e in pairs):
        return None
    if all(torch.allclose(g, -e, rtol=rtol, atol=atol) and e.abs().max() > atol for g, e in pairs):
        return "sign", "the values have the right size but the wrong sign: check the minus sign of your loss."
    ratios = []
    for g, e in pairs:
        mask = e.abs() > 1e-8
        if not mask.any():
            return None
        ratio = g[mask] / e[mask]
        first = ratio.flatten()[0]
        if not (torch.allclose(ratio, first.expand_as(ratio), rtol=1e-4)
                and torch.allclose(g, first * e, rtol=rtol, atol=atol)):
            return None
        ratios.append(first.item())
    factor = ratios[0]
    if abs(factor - 1) > 1e-3 and all(math.isclose(r, factor, rel_tol=1e-4) for r in ratios):
        return "factor", (f"your values are {factor:.4g} times the expected ones on all {len(ratios)} test cases: "
                          "a constant factor -- check mean vs sum (over the batch or the pixels) and constant "
                          "multipliers.")
    return None


def _what_differs(got, expected) -> str:
    """Where and by how much the student's values differ, without guessing a cause."""
    g, e = _as_float_tensor(got), _as_float_tensor(expected)
    if g is None or e is None or g.shape != e.shape:
        return f"expected {_short(expected)}, got {_short(got)}."
    if g.ndim == 0:
        gap = (g - e).item()
        relative = f" ({abs(gap) / abs(e.item()):.1%} of the expected value)" if e.item() != 0 else ""
        return f"expected {e.item():.6g}, got {g.item():.6g}: off by {gap:+.4g}{relative}."
    gap = (g - e).abs()
    if not torch.isfinite(g).all():
        bad = int((~torch.isfinite(g)).sum())
        return f"{bad} of {g.numel()} values are inf or nan (expected {_short(expected)}, got {_short(got)})."
    wrong = int((gap > 1e-5 + 1e-4 * e.abs()).sum())
    where = tuple(int(i) for i in torch.unravel_index(gap.argmax(), gap.shape))
    return (f"{wrong} of {g.numel()} values differ; the largest difference is {gap.max().item():.4g} at index "
            f"{where} (expected {e[where].item():.6g}, got {g[where].item():.6g}).")


def check_function(student: Any, reference: Callable, make_inputs: Callable[[torch.Generator], Sequence],
                   mistakes: Sequence[Mistake] = (), *, name: str | None = None, trials: int = 3,
                   observe: Callable | None = None, rtol: float = 1e-4, atol: float = 1e-5,
                   seed: int = 0, success: str | None = None, verbose: bool = True,
                   extra_cases: Sequence[Sequence] = ()) -> CheckResult:
    """Compare ``student`` with ``reference`` on ``trials`` fresh random inputs.

    make_inputs(generator) -> tuple of positional arguments (new ones each trial).
    extra_cases: fixed argument tuples tried after the random ones (e.g. extreme values that a
    numerically naive formula gets wrong).
    observe(fn, args) -> what to compare (default: ``fn(*args)``); use it to compare
    gradients or side effects as well as return values.
    """
    name = name or getattr(reference, "__name__", "check")
    observe = observe or (lambda fn, args: fn(*args))

    def report(passed, message, diagnosis, **details):
        return reported(CheckResult(passed, message, name, diagnosis, details), verbose)

    if student is None:
        return report(False, "got None instead of your function. Pass the function itself, "
                             "e.g. check(my_function), not its result.", "not_a_function")
    if not callable(student):
        return report(False, f"expected a function, got {_describe(student)}.", "not_a_function")

    generator = torch.Generator().manual_seed(seed)
    inputs = [tuple(make_inputs(generator)) for _ in range(trials)] + [tuple(case) for case in extra_cases]
    names = _parameter_names(reference)
    cases = []  # (args, expected, got) for every trial
    for args in inputs:
        with torch.enable_grad():  # the caller's no_grad() must not hide a missing (or extra) gradient
            expected = observe(reference, _clone(args))
        given = _clone(args)
        pristine = _clone(args)
        try:
            got = run_student(observe, student, given)
        except NotImplementedError:
            return report(False, "not implemented yet: replace `raise NotImplementedError()` with your code.",
                          "not_implemented")
        except Diagnosis as found:
            return report(False, found.message, found.name)
        except TimeLimitExceeded:
            return report(False, f"your function did not finish within {TIME_LIMIT_S:g} s: look for a loop that "
                                 "never ends (a `while` whose condition stays true) or a call of the function "
                                 "itself.", "time_limit")
        except SystemExit as error:
            return report(False, f"your function called exit() / sys.exit({error.code!r}): remove it and "
                                 "`return` the result instead.", "raised")
        except Exception as error:  # the student's code failed: say where, not the checker's internals
            frames = traceback.extract_tb(error.__traceback__)
            where = next((f"line {f.lineno}" for f in reversed(frames) if "course_lib" not in f.filename), "")
            hint = ""
            if isinstance(error, TypeError) and "argument" in str(error) and len(frames) <= 2:
                hint = " -- check that your function takes the arguments the exercise describes, in that order."
            return report(False, f"your function raised {type(error).__name__}: {error} "
                                 f"{'(' + where + ' of your code)' if where else ''}".strip() + hint, "raised")
        changed = _changed_inputs(pristine, given, names)
        if changed:
            return report(False, f"your function changed its input {', '.join(changed)} in place (an operation "
                                 "ending in _ such as add_ or clamp_, `x += ...` or `x[...] = ...`). The caller "
                                 "still needs those values: compute a new tensor instead.", "mutated_input")
        cases.append((args, expected, got))

    def matches(got, target):  # never raises: anything odd the student returned simply does not match
        try:
            return _structure_problem(got, target) is None and bool(values_match(got, target, rtol, atol))
        except Exception:
            return False

    failing = [i for i, (_, expected, got) in enumerate(cases) if not matches(got, expected)]
    if not failing:
        return report(True, success or f"correct on {trials} random test cases.", "correct")
    # A known mistake explains the answer only if it reproduces the student's output on *every* trial
    # (on a single input two different slips can give the same number).
    for mistake in mistakes:
        try:
            with torch.enable_grad():
                reproduced = all(matches(got, observe(mistake.implementation, _clone(args))) for args, _, got in cases)
            if reproduced:
                return report(False, mistake.message, mistake.name, trial=failing[0])
        except Exception:
            continue
    trial = failing[0]
    _, expected, got = cases[trial]
    problem = _safely(_structure_problem, got, expected)
    if problem is None and not isinstance(got, (torch.Tensor, int, float, list, tuple, dict, str, type(None))):
        problem = f"expected {_describe(expected)}, got {_describe(got)}."
    if problem is not None:
        return report(False, problem, "structure", trial=trial)
    generic = _safely(_generic_diagnosis, cases, rtol, atol)
    if generic is not None:
        return report(False, generic[1], generic[0], trial=trial)
    differs = _safely(_what_differs, got, expected) or f"expected {_short(expected)}, got {_short(got)}."
    return report(False, f"wrong values on test case {trial + 1} of {len(cases)}: {differs}", "values", trial=trial)


def _short(value) -> str:
    if isinstance(value, torch.Tensor):
        flat = value.detach().flatten()
        shown = ", ".join(f"{v:.4g}" for v in flat[:4].tolist())
        return f"[{shown}{', ...' if flat.numel() > 4 else ''}]" if value.ndim else f"{value.item():.6g}"
    try:
        return repr(value)[:80]
    except Exception:
        return f"(an unprintable {type(value).__name__})"


@contextlib.contextmanager
def single_thread():
    """Run the block with one PyTorch thread, then restore the previous count.

    The "train it" checks train tiny models whose operations are far smaller than a thread pool's
    start-up cost: on one thread they run faster, and a busy machine (CI's two cores shared by
    several processes) is not oversubscribed.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
