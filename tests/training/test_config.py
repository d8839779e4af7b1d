import pytest

from convviz.training.config import ConfigError, TrainConfig


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"lr": 0.0}, "lr must be > 0 and at most 10, got 0"),
        ({"lr": 1e6}, "lr must be > 0 and at most 10, got 1e\\+06 \\(a learning rate above 10 diverges at once\\)"),
        ({"lr": float("nan")}, "lr must be a number, got nan"),
        ({"batch_size": 0}, "batch_size must be between 1 and 8,192, got 0"),
        ({"epochs": 10**7}, "epochs must be between 1 and 100,000"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, momentum, nesterov, adam, got 'rmsprop'"),
        ({"momentum": 1.0}, "momentum must be ≥ 0 and at most 0.999, got 1"),
        ({"threads": 0}, "threads must be between 1 and 64, got 0"),
        ({"threads": 2.0}, "threads must be a whole number, got 2.0"),
    ],
)
def test_absurd_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_round_trip_and_strict_reading():
    config = TrainConfig(optimizer="adam", lr=0.001, epochs=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown training settings: learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(ConfigError, match="batch_size must be int, got '64'"):
        TrainConfig.from_dict({"batch_size": "64"})


def test_threads_default_to_both_cores_but_a_saved_config_without_them_ran_on_one():
    assert TrainConfig().threads == 2
    saved_before = {key: value for key, value in TrainConfig().to_dict().items() if key != "threads"}
    assert TrainConfig.from_dict(saved_before).threads == 1
    assert TrainConfig.from_dict(TrainConfig(threads=2).to_dict()).threads == 2
