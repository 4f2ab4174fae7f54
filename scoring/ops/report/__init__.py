"""`skipcache report`: a verdict that holds up, and charts that do not mislead.

Writes ``reports/<date>/`` beside the warehouse (``<date>`` is the last night with decisions):
  accuracy_by_arm.png   accuracy and cache hit rate of each A/B arm, night by night, with the
                        requests behind each point (marker size, 95% interval bars), nights
                        without data marked, and the always-play and user-history references
  feature_weights.png   the model's weights on standardised features (the seed's feature
                        importance figure)
  feature_correlation.png  Pearson correlations between the model's training features (the
                        seed's correlation matrix), on the rows the model was fitted on
  roc.png, calibration.png  hold-out ROC and calibration curves of the model and baselines
  leakage_gap.png       the seed's leaky evaluation against the honest hold-out, per model,
                        with the always-play and user-history accuracies beside them
  charts.json           the numbers each chart was drawn from (tests read these, not pixels)
  summary.md            the verdict in words, the numbers behind it, links to the charts
  index.html            the same content as one self-contained page (images inlined)
and ``reports/index.html``, a list of the nights' reports. Reads the warehouse read-only.

The package: data (ReportData, read from the warehouse), charts (matplotlib, only there),
verdict (the words), page (the blocks, summary.md, index.html, write_report).
"""
