"""Scenario files for the decoding strategies (docs/decoding.md), installed as package data."""
