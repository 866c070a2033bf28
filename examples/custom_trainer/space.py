"""The example's model family: a small CNN whose blocks are searched (width, kernel, pooling) for grey images."""

from raynas.space import SearchSpace, one_of

SPACE = SearchSpace(
    {
        "blocks": [{"width": one_of(8, 16, 32), "kernel": one_of(3, 5), "pool": one_of(True, False)} for _ in range(2)],
        "head": one_of("avg", "flatten"),
    },
    name="example_cnn",
)
BASELINE = {"blocks": [{"width": 16, "kernel": 3, "pool": True}, {"width": 16, "kernel": 3, "pool": True}],
            "head": "avg"}


def build(arch, *, num_classes, image_size):
    from torch import nn

    layers, channels, size = [], 1, image_size
    for block in arch["blocks"]:
        layers += [nn.Conv2d(channels, block["width"], block["kernel"], padding=block["kernel"] // 2),
                   nn.BatchNorm2d(block["width"]), nn.ReLU()]
        if block["pool"] and size >= 2:
            layers.append(nn.MaxPool2d(2))
            size //= 2
        channels = block["width"]
    if arch["head"] == "avg":
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    else:
        layers += [nn.Flatten(), nn.Linear(channels * size * size, num_classes)]
    return nn.Sequential(*layers)
