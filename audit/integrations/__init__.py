"""Integrations with other systems: where audit evidence goes after the report is written.

- :mod:`audit.integrations.mlflow` — one MLflow run per audited model (metrics, verdict tags,
  input hashes, the report folder as artifacts); a parent run for side-by-side candidates.

Each sits behind an optional extra (``pip install 'audit[mlflow]'``) and is imported lazily.
"""
