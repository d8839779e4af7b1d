"""A tiny network trained for two epochs on a small synthetic data set, for the analysis tests."""

import pytest
from analysis_helpers import tiny_spec

from convviz.data import synthetic_dataset


@pytest.fixture(scope="session")
def analysis_data():
    """600 training images (60 held out for validation) and 300 test images."""
    return synthetic_dataset(train=600, test=300, validation=60, seed=3)


@pytest.fixture(scope="session")
def trained(analysis_data):
    """A Trainer that ran two epochs (the network is well off chance but far from perfect)."""
    from convviz.training.config import TrainConfig
    from convviz.training.trainer import Trainer

    trainer = Trainer(tiny_spec(), analysis_data, TrainConfig(epochs=2, batch_size=32, lr=0.05, augment=False, threads=1))
    for _ in trainer.run():
        pass
    return trainer
