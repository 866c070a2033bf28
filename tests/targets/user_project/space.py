"""A user's own model family: a fixed backbone and a searched MLP head over 8x8 digit images (kept in the user's
folder, not in raynas)."""

from raynas.space import SearchSpace, one_of

SPACE = SearchSpace({"hidden": one_of(16, 32, 64), "depth": one_of(1, 2), "activation": one_of("relu", "tanh")},
                    name="user_mlp")
BASELINE = {"hidden": 32, "depth": 1, "activation": "relu"}


def build(arch, *, in_features=64, num_classes=10):
    from torch import nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Flatten(), nn.Linear(in_features, 48), nn.ReLU())  # not searched
            act = {"relu": nn.ReLU, "tanh": nn.Tanh}[arch["activation"]]
            layers, width = [], 48
            for _ in range(arch["depth"]):
                layers += [nn.Linear(width, arch["hidden"]), act()]
                width = arch["hidden"]
            self.head = nn.Sequential(*layers, nn.Linear(width, num_classes))

        def forward(self, x):
            return self.head(self.backbone(x))

    return Model()
