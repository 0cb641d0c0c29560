"""Reproductions of the seed papers' headline claims (`slmsim case-study NAME`)."""
