"""Augmentation search spaces (RandAugment- and AutoAugment-style) and applying a policy to a batch."""

from __future__ import annotations

from typing import Any, Callable

from raynas.augment._ops import OPS
from raynas.errors import ConfigError
from raynas.space import SearchSpace, float_range, one_of

POLICY_KINDS = ("randaugment", "autoaugment")


def randaugment_space(*, max_ops: int = 3, magnitudes: int = 9) -> SearchSpace:
    """RandAugment: how many random operations per batch and one shared magnitude."""
    return SearchSpace({"policy": "randaugment", "num_ops": one_of(*range(1, max_ops + 1)),
                        "magnitude": float_range(0.0, 1.0, num=magnitudes)}, name="randaugment")


def autoaugment_space(*, subpolicies: int = 3, ops_per_subpolicy: int = 2) -> SearchSpace:
    """AutoAugment: sub-policies of (operation, probability, magnitude); one sub-policy is drawn per batch."""
    step = {"op": one_of(*OPS), "probability": float_range(0.0, 1.0, num=5),
            "magnitude": float_range(0.0, 1.0, num=6)}
    return SearchSpace({"policy": "autoaugment",
                        "subpolicies": [[dict(step) for _ in range(ops_per_subpolicy)] for _ in range(subpolicies)]},
                       name="autoaugment")


def augmentation_space(kind: str) -> SearchSpace:
    if kind == "randaugment":
        return randaugment_space()
    if kind == "autoaugment":
        return autoaugment_space()
    raise ConfigError("augmentation_space", kind, "randaugment or autoaugment")


def make_augmenter(policy: dict[str, Any] | None) -> Callable[[Any, Any], Any] | None:
    """A function ``(batch, torch.Generator) -> augmented batch`` for a policy, or None for no policy."""
    if not policy:
        return None
    kind = policy.get("policy")
    if kind == "randaugment":
        names = list(OPS)

        def randaugment(x: Any, generator: Any) -> Any:
            import torch

            for index in torch.randint(len(names), (policy["num_ops"],), generator=generator).tolist():
                x = OPS[names[index]](x, policy["magnitude"])
            return x

        return randaugment
    if kind == "autoaugment":
        subpolicies = policy["subpolicies"]

        def autoaugment(x: Any, generator: Any) -> Any:
            import torch

            chosen = subpolicies[int(torch.randint(len(subpolicies), (1,), generator=generator))]
            for step in chosen:
                apply = torch.rand(len(x), generator=generator) < step["probability"]
                if bool(apply.any()):
                    apply = apply.to(x.device)
                    x = torch.where(apply[:, None, None, None], OPS[step["op"]](x, step["magnitude"]), x)
            return x

        return autoaugment
    raise ConfigError("augmentation.policy", kind, "randaugment or autoaugment")
