"""Landing: every physical line of every raw file, as bytes, with its file and line number.

Incremental per file: a file is (re)landed when its signature (size, mtime) changes, so a new
daily drop in sessions/ lands alone and history is not read again. The reading lives in
scoring.ingest.rawfiles (tested with pytest); this model only wires it into dbt.
"""


def raw_files(dbt):
    """The five raw files this model lands, declared as dbt sources so that the lineage graph
    starts at them. dbt finds these calls when it parses the file; the model never calls this
    function, because the files are read line by line as bytes (scoring.ingest.rawfiles.land), not as
    tables: a malformed line must reach the quarantine instead of failing a JSON reader."""
    return [
        dbt.source("pozytywka", "sessions"),
        dbt.source("pozytywka", "tracks"),
        dbt.source("pozytywka", "users"),
        dbt.source("pozytywka", "artists"),
        dbt.source("pozytywka", "track_storage"),
    ]


def model(dbt, session):
    from scoring.ingest.rawfiles import land, landed_signatures

    loaded = landed_signatures(session, dbt.this) if dbt.is_incremental else {}
    return land(dbt.config.get("raw_dir"), loaded)
