"""PyTorch's thread pool follows the CPUs a container may use; the user's explicit choice wins."""
import pytest
import torch

from course_lib import _threads, training


@pytest.mark.parametrize("affinity, cpu_max, quota, period, expected", [
    (64, "100000 100000", None, None, 1),   # Binder: 1 CPU on a 64-core host (cgroup v2)
    (64, "150000 100000", None, None, 1),   # 1.5 CPUs: a second thread would only be throttled
    (64, "50000 100000", None, None, 1),    # half a CPU: still one thread, never zero
    (64, "400000 100000", None, None, 4),
    (2, "400000 100000", None, None, 2),    # the affinity mask is smaller than the quota
    (8, "max 100000", None, None, 8),       # no quota
    (16, None, "200000", "100000", 2),      # cgroup v1
    (16, None, "-1", "100000", 16),         # cgroup v1, no quota
    (3, None, None, None, 3),               # no cgroup files at all (macOS, Windows)
])
def test_the_cpu_limit_is_the_affinity_mask_capped_by_the_cgroup_quota(affinity, cpu_max, quota, period, expected):
    assert _threads.cpu_limit(affinity, cpu_max, quota, period) == expected


def test_container_cpus_reads_cgroup_v2_cpu_max(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert _threads.container_cpus(str(tmp_path)) == 1


def test_container_cpus_reads_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert _threads.container_cpus(str(tmp_path)) == 1


@pytest.fixture
def threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


def test_torch_gets_no_more_threads_than_the_container_has_and_the_report_says_why(threads):
    torch.set_num_threads(2)
    decision = _threads.size_torch_threads(cpus=1)
    assert torch.get_num_threads() == 1 and decision["threads"] == 1
    assert training.environment_report(verbose=False)["cpu threads"] == "1 (limited to the 1 CPU(s) this container may use)"


def test_sizing_never_raises_the_thread_count(threads):
    torch.set_num_threads(1)
    _threads.size_torch_threads(cpus=4)
    assert torch.get_num_threads() == 1


def test_an_explicit_omp_num_threads_wins(threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    assert _threads.size_torch_threads(cpus=1)["reason"] == "OMP_NUM_THREADS"
    assert torch.get_num_threads() == 2


def test_a_later_torch_set_num_threads_wins_and_the_report_says_so(threads):
    _threads.size_torch_threads(cpus=1)
    torch.set_num_threads(2)
    assert training.environment_report(verbose=False)["cpu threads"] == "2 (set by torch.set_num_threads)"


def test_a_bad_affinity_is_refused():
    with pytest.raises(ValueError, match="at least 1 CPU"):
        _threads.cpu_limit(0)
