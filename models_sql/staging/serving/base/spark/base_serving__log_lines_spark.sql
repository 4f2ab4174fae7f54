{#-
    The served-answer logs' landing on Spark, as the table staging.base_serving__log_lines (the
    DuckDB build lands them through the Python model base_serving__log_lines): every physical
    line of every *.jsonl file of the folder served_log_dir (var, or the environment variable
    SKIPCACHE_SERVED_LOG_DIR that the nightly job sets), read by Spark with its file and line
    number (macro spark_file_lines, as the raw export's landing). No folder configured: no
    rows. Incremental per file by a content signature; the partitions of the files landed anew
    are overwritten.
-#}

{%- set log_dir = var('served_log_dir') or env_var('SKIPCACHE_SERVED_LOG_DIR', '') -%}

{{ config(
    alias='base_serving__log_lines',
    pre_hook=spark_text_view('skipcache_served_text', log_dir) if log_dir else [],
) }}

-- depends_on: {{ source('serving', 'served_answers') }}

with

{% if log_dir %}

file_lines as (

    {{ spark_file_lines('skipcache_served_text', '([^/]+)') }}

),

{% else %}

file_lines as (

    select
        cast(null as string) as relative_path,
        cast(null as string) as file_signature,
        cast(null as bigint) as line_number,
        cast(null as boolean) as is_blank,
        cast(null as binary) as raw_bytes
    where 1 = 0

),

{% endif %}

log_files as (

    select
        'served_answers' as entity,
        relative_path as source_file,
        file_signature,
        line_number,
        is_blank,
        raw_bytes
    from file_lines

),

final as (

    select
        log_files.entity,
        log_files.file_signature,
        log_files.line_number,
        log_files.is_blank,
        log_files.raw_bytes,
        {{ run_loaded_at() }} as loaded_at,
        log_files.source_file
    from log_files
    {%- if is_incremental() %}
        where not {{ file_already_in_this('log_files') }}
    {%- endif %}

)

select * from final
