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
    newline; the parsers decide what is valid UTF-8 and JSON.

    Line numbers: spark.read.json would lose them. Each line gets its position within its file
    split (monotonically_increasing_id, read order) and the split's offset
    (input_file_block_start); numbering by (offset, position) per file gives the physical order.

    Incremental per file, as the Python landing: a file is landed again only when its
    signature changed (here a content signature: line count and a sum of line hashes; the
    file's size and modification time are not visible through a SQL view); the partitions of the files landed anew are
    overwritten (insert_overwrite, partitioned by source_file).
-#}

{{ config(
    alias='base_pozytywka__raw_lines',
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['source_file'],
    unique_key='source_file',
    pre_hook="create or replace temporary view skipcache_raw_text using text options (path '" ~ var('raw_dir') ~ "', recursiveFileLookup 'true', pathGlobFilter '*.jsonl', lineSep '\\n')",
) }}

-- depends_on: {{ source('pozytywka', 'sessions') }}
-- depends_on: {{ source('pozytywka', 'tracks') }}
-- depends_on: {{ source('pozytywka', 'users') }}
-- depends_on: {{ source('pozytywka', 'artists') }}
-- depends_on: {{ source('pozytywka', 'track_storage') }}

with

read_lines as (

    select
        value,
        input_file_name() as file_path,
        input_file_block_start() as block_start,
        monotonically_increasing_id() as read_position
    from skipcache_raw_text

),

located as (

    select
        *,
        regexp_extract(file_path, '((sessions/)?[^/]+)$', 1) as relative_path
    from read_lines

),

raw_files as (

    select
        case
            when relative_path like 'sessions/%' or relative_path = 'sessions.jsonl' then 'sessions'
            else regexp_replace(relative_path, '\\.jsonl$', '')
        end as entity,
        relative_path as source_file,
        concat(
            cast(count(*) over (partition by file_path) as string), ':',
            cast(sum(xxhash64(value)) over (partition by file_path) as string)
        ) as file_signature,
        cast(row_number() over (partition by file_path order by block_start, read_position) as bigint)
            as line_number,
        value rlike '^\\s*$' as is_blank,
        cast(value as binary) as raw_bytes
    from located
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
        raw_files.source_file
    from raw_files
    {%- if is_incremental() %}
        where not exists (
            select 1
            from {{ this }} as landed
            where
                landed.source_file = raw_files.source_file
                and landed.file_signature = raw_files.file_signature
        )
    {%- endif %}

)

select * from final
