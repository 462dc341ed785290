"""The pretraining recipe's parts in dcviz.nets: optimiser, learning-rate schedule, DEC's input
dropout, and the "auto" precision."""
from __future__ import annotations

import pytest
import torch

from dcviz.methods.base import Context
from dcviz.nets import MLPAutoencoder, pretrain_autoencoder, resolve_precision
from dcviz.nets.autoencoders import LR_SCHEDULES, pretrain_optimizer


def tiny(seed: int = 0):
    torch.manual_seed(seed)
    return MLPAutoencoder(6, 2, (8,)), torch.rand(40, 6, generator=torch.Generator().manual_seed(1))


def run(ae, x, **kw):
    return [loss for _, loss in pretrain_autoencoder(ae, x, epochs=kw.pop("epochs", 4),
                                                     batch_size=16, lr=kw.pop("lr", 1e-2),
                                                     ctx=Context(0), **kw)]


def test_cosine_schedule_falls_from_lr_to_nearly_zero_and_constant_stays():
    ae, x = tiny()
    opt = pretrain_optimizer(ae, 1e-2, "cpu")
    seen = []
    step = opt.step

    def spy(*a, **k):
        seen.append(opt.param_groups[0]["lr"])
        return step(*a, **k)
    opt.step = spy
    run(ae, x, optimizer=opt, lr_schedule="cosine")
    assert seen[0] == pytest.approx(1e-2) and seen[-1] < 1e-3
    assert all(a >= b for a, b in zip(seen, seen[1:]))  # never rises
    assert LR_SCHEDULES["constant"](0.7) == 1.0


def test_a_resumed_cosine_pretraining_continues_the_same_schedule():
    """The rate is a function of the step within the whole pretraining, so stopping after 2 of
    4 epochs and going on gives the weights of the run that never stopped."""
    ae, x = tiny()
    whole = run(ae, x, lr_schedule="cosine")
    ae2, _ = tiny()
    ctx2, opt2 = Context(0), pretrain_optimizer(ae2, 1e-2, "cpu")
    gen = pretrain_autoencoder(ae2, x, epochs=4, batch_size=16, lr=1e-2, ctx=ctx2, optimizer=opt2,
                               lr_schedule="cosine")
    part = [next(gen)[1], next(gen)[1]]
    gen.close()
    rest = [loss for _, loss in pretrain_autoencoder(ae2, x, epochs=4, batch_size=16, lr=1e-2,
                                                     ctx=ctx2, optimizer=opt2,
                                                     lr_schedule="cosine", start_epoch=2)]
    assert part + rest == pytest.approx(whole, rel=1e-6)


def test_sgd_and_adam_are_both_offered_and_others_refused():
    ae, _ = tiny()
    assert isinstance(pretrain_optimizer(ae, 0.1, "cpu", "sgd"), torch.optim.SGD)
    assert pretrain_optimizer(ae, 0.1, "cpu", "sgd").param_groups[0]["momentum"] == 0.9
    assert isinstance(pretrain_optimizer(ae, 1e-3, "cpu"), torch.optim.Adam)
    with pytest.raises(ValueError):
        pretrain_optimizer(ae, 1e-3, "cpu", "rmsprop")


def test_dropout_corrupts_the_input_but_the_target_stays_clean():
    """DEC's corruption: the loss compares the AE's output on a masked input with the clean
    batch. With a rate of 0 nothing moves, so the epoch's loss is the AE's error on clean inputs
    without dropout, and another one with it; the mask comes from the run's generator (two runs
    of one seed agree)."""
    ae, x = tiny()
    with torch.no_grad():
        clean = float(torch.nn.functional.mse_loss(ae(x), x))
    assert run(ae, x, epochs=1, lr=0.0) == pytest.approx([clean], rel=1e-5)
    dropped = run(*tiny(), epochs=1, lr=0.0, dropout=0.5)
    assert abs(dropped[0] - clean) > 1e-3
    assert run(*tiny(), epochs=1, lr=0.0, dropout=0.5) == dropped
    with pytest.raises(ValueError):
        run(*tiny(), dropout=1.0)


def test_auto_precision_follows_the_hardware(monkeypatch):
    from dcviz.nets import autoencoders
    monkeypatch.setattr(autoencoders, "fast_bf16", lambda device: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(autoencoders, "fast_bf16", lambda device: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16" and resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError):
        resolve_precision("fp16", "cpu")
