"""How a stage plugs into a search without the engine knowing the stage.

A stage (e.g. inline stage 2) hands :func:`raynas.tune.run_search` factories of :class:`SearchCallback`; the engine
calls each once the experiment folder is ready (after ``--overwrite`` cleared it), adds what it returns to Ray Tune's
callbacks, and knows nothing else about it. A resumed search calls the factories again (Ray Tune's saved state is
never restored): a callback with state continues from its own files.
"""

from __future__ import annotations

from typing import Callable

from ray.tune import Callback as SearchCallback

#: Makes one extra search callback; called once, when the experiment folder exists.
CallbackFactory = Callable[[], SearchCallback]

__all__ = ["CallbackFactory", "SearchCallback"]
