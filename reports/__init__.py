"""HTML reports a person opens: one self-contained file each, plotly.js embedded once.

- `reports.design.write_design_report`: one model on one hardware spec (`slmsim simulate
  --report`): latency and energy breakdowns, memory footprint, roofline, DES timeline.
- `reports.study.write_study_report`: a DSE study (`slmsim report`, `slmsim explore`):
  Pareto front with baselines, convergence, importances, parallel coordinates, per-workload
  view of a chosen design.

Figures are pure functions of results (`design_figures`, `study_figures`); `html` writes
pages. reports reads results and never imports dse or slmsim. See docs/reports.md.
"""
