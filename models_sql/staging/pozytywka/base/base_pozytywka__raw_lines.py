"""Landing: every physical line of every raw file, as bytes, with its file and line number.

Incremental per file: a file is (re)landed when its signature (size, mtime) changes, so a new
daily drop in sessions/ lands alone and history is not read again. The reading lives in
scoring.rawfiles (tested with pytest); this model only wires it into dbt.
"""


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="source_file",
    )
    from scoring.rawfiles import land

    loaded = {}
    if dbt.is_incremental:
        rows = session.sql(
            f"select source_file, any_value(file_signature) from {dbt.this} group by 1"
        ).fetchall()
        loaded = dict(rows)
    return land(dbt.config.get("raw_dir"), loaded)
