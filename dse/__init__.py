"""Design-space exploration: space files, Optuna studies, Pareto fronts (docs/dse.md).

space.py / space_check.py  the space file, resolved and checked
candidate.py, evaluate.py  a design derived from the base spec, evaluated on the workloads
metrics.py, pareto.py      what a design is judged by; fronts and hypervolume
study.py, storage.py       Optuna studies, workers, resuming, storages
outputs.py                 trials/Pareto tables and study.json (written by the CLI)
"""
