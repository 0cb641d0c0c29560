"""Example space and scenario files, installed as package data (`slmsim.examples`).

Read them through `slmsim.resources` (importlib.resources), never by a path relative to the
source tree: an installed slmsim has no repository around it.
"""
