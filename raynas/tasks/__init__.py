"""Tasks (``proxy_tasks/*.yaml``): dataset, model family, fixed training recipe, proxy/full variants and the proxy
candidates a task lists (or that are generated from its proxy variant)."""

from raynas.tasks._candidates import ProxyCandidate, candidate_name, make_candidate, relative_cost, task_candidates
from raynas.tasks._task import TaskConfig, find_task, load_task, task_from_dict
from raynas.tasks._variant import BUILTIN_VARIANT_KEYS, VARIANTS, Variant, check_user_settings, variant_from_dict

__all__ = ["BUILTIN_VARIANT_KEYS", "ProxyCandidate", "TaskConfig", "VARIANTS", "Variant", "candidate_name",
           "check_user_settings", "find_task", "load_task", "make_candidate", "relative_cost", "task_candidates",
           "task_from_dict", "variant_from_dict"]
