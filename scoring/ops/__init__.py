"""Ops: running and watching it all. The nightly job (nightly), its Prometheus metrics
(metrics), the report for analysts and managers (report), and the benchmarks (bench,
bench_serve, engine_bench, with the seed's designs they are measured against: peer,
bench_seed_app).

May import every other wing; nothing imports ops but the CLI."""
