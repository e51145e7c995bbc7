"""The quickstart notebook runs top to bottom."""

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO


@pytest.mark.timeout(600)
def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("A2A_NOTEBOOK_DIR", str(tmp_path))
    nb = nbformat.read(REPO / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert (tmp_path / "quickstart.gif").exists()
    last = nb.cells[-1].outputs[-1]["data"]["text/plain"]
    assert "'reward'" in last and "'rmse'" in last
