"""Running raynas on a Ray cluster started with the Ray cluster launcher (``ray up cluster.yaml``).

``raynas/cluster/launcher.py`` is the script that ``ray submit cluster.yaml raynas/cluster/launcher.py -- ARGS``
copies to the head node and runs there: it points raynas at the running cluster, the head's MLflow server and
the shared work directory, then runs ``raynas ARGS``. It is a standalone file (``ray submit`` copies it alone);
nothing is imported here, so ``import raynas.cluster`` stays light.
"""
