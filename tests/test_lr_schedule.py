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
                                         ("cosine", {"warmup_epochs": 1}),
                                         ("cyclic", {"max_lr": 0.05, "half_cycle_epochs": 1.5})])
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


def triangle(base_lr, max_lr, half_cycle, steps):
    """The triangular cycle written the other way round from cyclic_lr: position within the cycle, up then down."""
    position = np.arange(steps) % (2 * half_cycle)
    rise = np.where(position <= half_cycle, position, 2 * half_cycle - position) / half_cycle
    return base_lr + (max_lr - base_lr) * rise


def test_cyclic_rises_to_max_lr_and_falls_back_every_two_half_cycles():
    """naviocean's P3D: step_size = 2 x iterations per epoch, i.e. half_cycle_epochs 2: the rate starts at lr,
    reaches max_lr after 2 epochs, is back at lr after 4, and repeats."""
    steps_per_epoch = 5
    lr = create_lr_schedule("cyclic", 1e-3, steps_per_epoch, 9, max_lr=6e-3, half_cycle_epochs=2)
    assert lr.dtype == np.float32 and len(lr) == 45
    np.testing.assert_allclose(lr, triangle(1e-3, 6e-3, 10, 45), rtol=1e-6)
    np.testing.assert_allclose(lr[[0, 5, 10, 15, 20, 30, 40]], [1e-3, 3.5e-3, 6e-3, 3.5e-3, 1e-3, 6e-3, 1e-3],
                               rtol=1e-6)
    # a half cycle in epochs is rounded to whole steps: 0.5 epoch of 3 steps is 2 steps
    np.testing.assert_allclose(create_lr_schedule("cyclic", 0.01, 3, 4, max_lr=0.05, half_cycle_epochs=0.5),
                               triangle(0.01, 0.05, 2, 12), rtol=1e-6)


@pytest.mark.parametrize("base_lr,max_lr,steps_per_epoch,half_cycle_epochs,num_epochs", [
    (1e-3, 6e-3, 5, 2, 9), (0.01, 0.05, 3, 0.5, 4), (1e-4, 6e-3, 7, 3, 13), (0.1, 0.1, 2, 1, 3)])
def test_cyclic_matches_pytorchs_cycliclr(base_lr, max_lr, steps_per_epoch, half_cycle_epochs, num_epochs):
    """The rate of each step as torch.optim.lr_scheduler.CyclicLR(mode='triangular') sets it when stepped after
    every batch (as naviocean steps its CyclicLR); momentum is not cycled, as in naviocean's."""
    torch = pytest.importorskip("torch")
    half_cycle = round(half_cycle_epochs * steps_per_epoch)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr=base_lr, max_lr=max_lr,
                                                  step_size_up=half_cycle, mode="triangular", cycle_momentum=False)
    expected = []
    for _ in range(num_epochs * steps_per_epoch):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    lr = create_lr_schedule("cyclic", base_lr, steps_per_epoch, num_epochs, max_lr=max_lr,
                            half_cycle_epochs=half_cycle_epochs)
    np.testing.assert_allclose(lr, expected, rtol=1e-6)


def test_cyclic_refuses_an_upside_down_or_stepless_cycle():
    with pytest.raises(ValueError, match="max_lr 0.001 is below lr 0.01"):
        create_lr_schedule("cyclic", 0.01, 4, 2, max_lr=0.001)
    with pytest.raises(ValueError, match="half cycle of 0.1 epochs is less than one step at 4 steps per epoch"):
        create_lr_schedule("cyclic", 0.001, 4, 2, half_cycle_epochs=0.1)
