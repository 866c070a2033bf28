"""The example's training loop: plain PyTorch. raynas calls train(ctx) once per trial."""

import torch
from torch import nn


def accuracy(model, dataset, device):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(dataset, batch_size=256):
            correct += int((model(x.to(device)).argmax(1) == y.to(device)).sum())
    return 100.0 * correct / len(dataset)


def train(ctx):
    size = ctx.variant["image_size"]                     # a key of our own, varied by proxy candidates
    train_set, val_set = ctx.datasets(image_size=size)    # this stage's split of the task's image folder
    model = ctx.wrap_model(ctx.build(num_classes=10, image_size=size))
    optimizer = torch.optim.Adam(model.parameters(), lr=ctx.variant["lr"])
    state = ctx.load_checkpoint()                         # set when a lost trial is started again
    if state is not None:
        ctx.unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    for epoch in range(ctx.start_epoch, ctx.variant["epochs"] + 1):
        model.train()
        for x, y in ctx.loader(train_set, batch_size=64, epoch=epoch):
            loss = nn.functional.cross_entropy(model(x.to(ctx.device)), y.to(ctx.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        ctx.save_checkpoint({"model": ctx.unwrap(model).state_dict(), "optimizer": optimizer.state_dict()},
                            epoch=epoch)
        ctx.report(epoch=epoch, val_accuracy=accuracy(ctx.unwrap(model), val_set, ctx.device),
                   train_loss=float(loss.detach()))
    ctx.save_model(model)
