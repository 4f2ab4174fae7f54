"""Landing of the cache service's served-answer logs: every physical line of every
serving/requests/<UTC date>.jsonl, as bytes, with its file and line number.

The same landing as base_pozytywka__raw_lines (scoring.ingest.rawfiles), over the folder of the var
served_log_dir (none configured, or no folder: no rows). Incremental per file: a day's file is
landed again when its size or modification time changes (today's, while the service appends),
so past days are not read again.
"""


def served_log_files(dbt):
    """The log files this model lands, declared as a dbt source so that the lineage graph
    starts at them. dbt finds the call when it parses the file; the model never calls this
    function: the files are read line by line as bytes (scoring.ingest.rawfiles.land_served_logs), so
    that a torn line reaches the quarantine instead of failing a JSON reader."""
    return dbt.source("serving", "served_answers")


def model(dbt, session):
    from scoring.ingest.rawfiles import land_served_logs, landed_signatures

    loaded = landed_signatures(session, dbt.this) if dbt.is_incremental else {}
    return land_served_logs(dbt.config.get("served_log_dir"), loaded)
