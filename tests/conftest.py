import os

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    run_slow = os.environ.get("LIGHTSEP_SLOW") == "1"
    has_gpu = torch.cuda.is_available()
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow: set LIGHTSEP_SLOW=1 to run"))
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the suite's decoded-audio cache out of the user's home."""
    os.environ["LIGHTSEP_CACHE"] = str(tmp_path_factory.mktemp("lightsep-cache"))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
