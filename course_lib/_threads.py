"""Plumbing: size PyTorch's thread pool to the CPUs this process may really use.

``size_torch_threads()`` (called when ``course_lib`` is imported) gives PyTorch no more threads
than the CPUs this process may use: the affinity mask and the container's CPU quota (cgroup v2
``cpu.max``, v1 ``cpu.cfs_quota_us``). On Binder (1 CPU on a many-core host) torch would
otherwise start one thread per host core and crawl. An explicit ``OMP_NUM_THREADS`` wins, and so
does any later ``torch.set_num_threads(n)``.
"""
from __future__ import annotations

import os
from pathlib import Path


def cpu_limit(affinity: int, cpu_max: str | None = None, cfs_quota_us: str | None = None,
              cfs_period_us: str | None = None) -> int:
    """How many CPUs a process may keep busy: the affinity mask capped by the cgroup CPU quota.

    ``cpu_max`` is the text of cgroup v2's ``cpu.max`` ("max 100000" or "150000 100000"),
    ``cfs_quota_us``/``cfs_period_us`` those of cgroup v1 (quota -1: no limit). A fractional
    quota is rounded down (1.5 CPUs -> 1 thread: a second one would only be throttled), never below 1.
    """
    if affinity < 1:
        raise ValueError(f"affinity must be at least 1 CPU, got {affinity}")
    quota = None
    if cpu_max and cpu_max.split()[0] != "max":
        limit, period = cpu_max.split()[:2]
        quota = int(limit) / int(period)
    elif cfs_quota_us and cfs_period_us and int(cfs_quota_us) > 0:
        quota = int(cfs_quota_us) / int(cfs_period_us)
    return affinity if quota is None else max(1, min(affinity, int(quota)))


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except (OSError, ValueError):
        return None


def container_cpus(cgroup: str = "/sys/fs/cgroup") -> int:
    """CPUs this process may use here (affinity mask and cgroup v2/v1 quota, see ``cpu_limit``)."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpu_limit(affinity, _read(f"{cgroup}/cpu.max"), _read(f"{cgroup}/cpu/cpu.cfs_quota_us"),
                     _read(f"{cgroup}/cpu/cpu.cfs_period_us"))


TORCH_THREADS = {"threads": None, "reason": "not sized yet"}  # what size_torch_threads() decided


def size_torch_threads(cpus: int | None = None) -> dict:
    """Give torch at most ``cpus`` (default: ``container_cpus()``) intra-op threads, unless the user chose.

    Returns (and keeps in ``TORCH_THREADS``) {"threads": n, "reason": why}; ``environment_report``
    prints it. Only ever lowers torch's count: an explicit ``OMP_NUM_THREADS`` is left alone.
    """
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        decision = {"threads": torch.get_num_threads(), "reason": "OMP_NUM_THREADS"}
    else:
        cpus = container_cpus() if cpus is None else cpus
        if torch.get_num_threads() > cpus:
            torch.set_num_threads(cpus)
            decision = {"threads": cpus, "reason": f"limited to the {cpus} CPU(s) this container may use"}
        else:
            decision = {"threads": torch.get_num_threads(), "reason": f"{cpus} CPU(s) available"}
    TORCH_THREADS.update(decision)
    return dict(TORCH_THREADS)
