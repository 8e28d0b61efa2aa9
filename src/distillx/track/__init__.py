"""MLflow tracking: one MLflow run per training run, nested under one parent run per Hydra multirun sweep.

Runs are addressed by explicit run ids through ``MlflowClient``, never MLflow's global active run, so sweep
jobs that Hydra's basic launcher executes one after another in one process cannot leak into each other.
"""
