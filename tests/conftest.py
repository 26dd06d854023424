import os

import pytest

# Keep results reproducible and the 2-core CI machine responsive.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _seed_everything():
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A small S-MNIST set for training tests (3 training sequences x 24 frames, 2 validation x 12); a module
    that needs other data defines its own ``data_root``."""
    from sesiam_lib.data import generate_synthetic

    root = tmp_path_factory.mktemp("smnist")
    generate_synthetic(root, kind="S-MNIST", split="train", num_sequences=3, num_frames=24, progress=False)
    generate_synthetic(root, kind="S-MNIST", split="val", num_sequences=2, num_frames=12, progress=False)
    return root
