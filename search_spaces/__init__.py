"""The model families bundled with raynas (installed as ``raynas.search_spaces``; see ``raynas/_lookup.py``)."""
