"""Model: from training examples to a registered, gated model. The feature list (features),
splits, the SVC and its calibration (model_fit), the baselines and metrics (evaluation), the
registry and the job's ml tables (registry, job_tables), the export of the weights as SQL
(sql_scoring), and the train step that ties them (train_and_gate).

Imports ingest and the base (config, errors), never decide or ops."""
