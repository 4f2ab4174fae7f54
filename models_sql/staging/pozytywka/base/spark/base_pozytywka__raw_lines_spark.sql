{#-
    The landing on Spark, as the table staging.base_pozytywka__raw_lines (the DuckDB build lands
    through the Python model base_pozytywka__raw_lines, scoring.rawfiles; dbt-spark runs Python
    models only on Databricks). Models read the landing through base_pozytywka__landed_lines.
    Two models of one name, one disabled per target, confuse dbt's partial parsing; hence
    this model's own name and the alias. Spark itself reads the
    raw files: every physical line of every *.jsonl file of the export folder (sessions.jsonl
    or sessions/*.jsonl and the four catalogue files), split on \n only, with its file and its
    line number (from 1, blank lines counted, as an editor numbers them). The text reader keeps
    each line's bytes as they are (not decoded), so raw_bytes are the file's bytes without the
    newline; the parsers decide what is valid UTF-8 and JSON (macro spark_file_lines, shared
    with the served-answer logs' landing).

    Incremental per file, as the Python landing: a file is landed again only when its
    signature changed (here a content signature: line count and a sum of line hashes; the
    file's size and modification time are not visible through a SQL view); the partitions of the files landed anew are
    overwritten (insert_overwrite, partitioned by source_file).
-#}

{{ config(
    alias='base_pozytywka__raw_lines',
    pre_hook=spark_text_view('skipcache_raw_text', var('raw_dir')),
) }}

-- depends_on: {{ source('pozytywka', 'sessions') }}
-- depends_on: {{ source('pozytywka', 'tracks') }}
-- depends_on: {{ source('pozytywka', 'users') }}
-- depends_on: {{ source('pozytywka', 'artists') }}
-- depends_on: {{ source('pozytywka', 'track_storage') }}

with

file_lines as (

    {{ spark_file_lines('skipcache_raw_text', '((sessions/)?[^/]+)') }}

),

raw_files as (

    select
        case
            when relative_path like 'sessions/%' or relative_path = 'sessions.jsonl' then 'sessions'
            else regexp_replace(relative_path, '\\.jsonl$', '')
        end as entity,
        relative_path as source_file,
        file_signature,
        line_number,
        is_blank,
        raw_bytes
    from file_lines
    where
        relative_path in (
            'sessions.jsonl', 'tracks.jsonl', 'users.jsonl', 'artists.jsonl', 'track_storage.jsonl'
        )
        or relative_path like 'sessions/%'

),

final as (

    select
        raw_files.entity,
        raw_files.file_signature,
        raw_files.line_number,
        raw_files.is_blank,
        raw_files.raw_bytes,
        {{ run_loaded_at() }} as loaded_at,
        raw_files.source_file
    from raw_files
    {%- if is_incremental() %}
        where not {{ file_already_in_this('raw_files') }}
    {%- endif %}

)

select * from final
