"""Exercise checks: a student's function against the reference, with specific feedback.

``core`` holds the engine; each topic has a module of ready checks
(``course_lib.checks.cnn``, ``...gan``, ``...vae`` ...). In a notebook::

    from course_lib.checks.cnn import check_conv_output_size
    check_conv_output_size(conv_output_size)   # prints ✅ or a specific hint
"""
from .core import CheckResult, Mistake, check_function

__all__ = ["CheckResult", "Mistake", "check_function"]
