"""A generator notebook's fast-mode checks fail when its model learns nothing.

CI runs the notebooks in fast mode, with budgets so small that the full-mode quality targets cannot hold; the
fast-mode checks must still tell a model that trained from one that did not. Each generator notebook runs here in
fast mode with every optimizer step switched off (the same as a learning rate of 0) and must stop at one of its
own assertions. It runs in a scratch COURSE_HOME, so the untrained models it saves never reach other tests.
"""
import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# One notebook per kind of generator (GAN, VAE, conditional GAN, diffusion, flow matching). 02 (the toy GAN) and
# 07 (pix2pix) stop at a check the same way (run once, 2026-12-01) but cost about two minutes more of the suite.
GENERATOR_NOTEBOOKS = ["03_dcgan", "04_vae_elbo", "06_conditional_gan", "11_diffusion", "12_flow_matching"]
# 04 reads gradients in a teaching cell (REINFORCE against the reparameterization trick) before its first check, so
# only its optimizer steps are switched off; the others skip backward() as well: the parameters stay exactly as they
# are either way, and the run costs a fraction of the training it replaces.
READS_GRADIENTS_BEFORE_ITS_CHECKS = {"04_vae_elbo"}

NOTHING_LEARNS = """\
import os
import torch
os.environ["COURSE_HOME"] = {home!r}
for optimizer in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
    optimizer.step = lambda self, closure=None: None  # a learning rate of 0: no parameter ever changes
torch.Tensor.real_backward = getattr(torch.Tensor, "real_backward", torch.Tensor.backward)  # the kernel is shared
torch.Tensor.backward = ((lambda self, *args, **kwargs: None) if {skip_backward}  # no gradients either (nothing
                         else torch.Tensor.real_backward)                         # would use them)
from course_lib import reference
reference.adopt("evaluation_cnn")  # the judge is a trained network, as in a normal run
reference.adopt("second_cnn")  # and so is evaluate_samples' second feature extractor
"""


@pytest.fixture(scope="module")
def kernel():
    """One fast-mode kernel for every run here: a run then costs its notebook's cells, not one more kernel start
    and one more round of imports (each run still gets a COURSE_HOME of its own)."""
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(NOTEBOOKS), env={**os.environ, "COURSE_FAST": "1"})
    yield manager
    manager.shutdown_kernel(now=True)


@pytest.mark.parametrize("name", GENERATOR_NOTEBOOKS)
def test_fast_mode_checks_fail_when_the_model_learns_nothing(name, tmp_path, kernel):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(NOTHING_LEARNS.format(
        home=str(tmp_path), skip_backward=name not in READS_GRADIENTS_BEFORE_ITS_CHECKS)))
    client = NotebookClient(notebook, km=kernel, timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}})
    with pytest.raises(CellExecutionError) as stopped:
        client.execute()
    assert stopped.value.ename == "AssertionError", f"{name} stopped on {stopped.value.ename}, not on a check"
