"""A user's own PyTorch training loop, written the way a user writes one: it imports torch, not raynas."""

import os
import time

import torch
from torch import nn


def evaluate(model, dataset):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(dataset, batch_size=256):
            correct += int((model(x).argmax(dim=1) == y).sum())
    return 100.0 * correct / len(dataset)


def train(ctx):
    train_set, val_set = ctx.datasets()
    model = ctx.wrap_model(ctx.build(in_features=64, num_classes=10))
    optimizer = torch.optim.Adam(model.parameters(), lr=float(ctx.variant.get("lr", 0.01)))
    state = ctx.load_checkpoint()
    if state is not None:
        ctx.unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    steps = ctx.variant.get("steps")  # a user-defined variant key: at most this many batches per epoch
    log = ctx.variant.get("log") or os.environ.get("USER_TRAINER_LOG")
    for epoch in range(ctx.start_epoch, ctx.variant["epochs"] + 1):
        if log:  # the tests read which epochs each start of the trial trained
            with open(log, "a") as handle:
                handle.write(f"{ctx.rank} {ctx.world_size} {epoch} {os.getpid()}\n")
        model.train()
        total, seen = 0.0, 0
        for step, (x, y) in enumerate(ctx.loader(train_set, batch_size=32, epoch=epoch)):
            if steps is not None and step >= steps:
                break
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, seen = total + float(loss.detach()) * len(y), seen + len(y)
        if ctx.variant.get("slow_epoch_s"):
            time.sleep(float(ctx.variant["slow_epoch_s"]))
        accuracy = evaluate(ctx.unwrap(model), val_set)
        ctx.save_checkpoint({"model": ctx.unwrap(model).state_dict(), "optimizer": optimizer.state_dict()},
                            epoch=epoch)
        ctx.report(epoch=epoch, val_accuracy=accuracy, train_loss=total / max(1, seen),
                   world_size=ctx.world_size)
    ctx.save_model(model)


def never_reports(ctx):
    ctx.datasets()


def reports_without_metric(ctx):
    ctx.report(epoch=1, loss=0.5)


def fails(ctx):
    raise ValueError("the user's loop broke")


def two_arguments(ctx, other):
    pass


NOT_A_FUNCTION = 42
