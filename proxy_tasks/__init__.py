"""The tasks bundled with raynas (installed as ``raynas.proxy_tasks``; see ``raynas/_lookup.py``)."""
