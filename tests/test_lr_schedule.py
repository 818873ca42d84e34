"""Per-step learning-rate schedules."""
import numpy as np
import pytest

from src.training import cosine_lr, create_lr_schedule, step_decay_lr


def test_step_decay_matches_the_upstream_rule():
    lr = step_decay_lr(0.1, steps_per_epoch=3, num_epochs=5, decay_rate=0.5, decay_epochs=2)
    expected = [0.1] * 6 + [0.05] * 6 + [0.025] * 3  # epochs 0-1, 2-3, 4
    assert lr.dtype == np.float32 and np.allclose(lr, expected)


def test_cosine_with_warmup():
    lr = cosine_lr(1.0, steps_per_epoch=2, num_epochs=4, min_lr=0.1, warmup_epochs=1)
    assert np.allclose(lr[:2], [0.5, 1.0])                       # linear warm-up
    assert np.isclose(lr[2], 1.0)                                # the cosine starts at base_lr
    assert np.isclose(lr[2 + 3], 0.1 + 0.45 * (1 + np.cos(np.pi * 3 / 6)))  # halfway through the cosine
    assert np.all(np.diff(lr[2:]) < 0) and lr[-1] > 0.1          # decreasing, approaching min_lr


@pytest.mark.parametrize("name,kwargs", [("step", {"decay_rate": 0.1, "decay_epochs": 2}),
                                         ("cosine", {"warmup_epochs": 1})])
def test_resuming_continues_the_same_schedule(name, kwargs):
    whole = create_lr_schedule(name, 0.01, 4, 6, **kwargs)
    resumed = create_lr_schedule(name, 0.01, 4, 6, start_epoch=3, **kwargs)
    assert len(whole) == 24 and np.array_equal(resumed, whole[12:])


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown lr schedule"):
        create_lr_schedule("linear", 0.1, 1, 1)
    with pytest.raises(ValueError, match="start_epoch 7"):
        create_lr_schedule("step", 0.1, 2, 5, start_epoch=7)
    with pytest.raises(ValueError, match="positive"):
        create_lr_schedule("cosine", 0.1, 0, 5)


def test_multistep_matches_pytorchs_multisteplr():
    lr = create_lr_schedule("multistep", 0.1, 2, 8, milestones=[3, 6], decay_rate=0.1)
    np.testing.assert_allclose(lr[::2], [0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)
    assert len(lr) == 16
    np.testing.assert_array_equal(create_lr_schedule("multistep", 0.1, 2, 8, milestones=[3, 6], start_epoch=4),
                                  lr[8:])
    with pytest.raises(ValueError, match="milestones must be positive"):
        create_lr_schedule("multistep", 0.1, 2, 8, milestones=[0])
