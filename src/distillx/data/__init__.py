"""Datasets: readers, the shared example schema, label vocabularies and splits."""
