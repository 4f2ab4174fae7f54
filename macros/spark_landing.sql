{#- The landing on Spark, shared by the raw export's (base_pozytywka__raw_lines_spark) and the
    served-answer logs' (base_serving__log_lines_spark): Spark itself reads the files. -#}

{% macro spark_text_view(view, path) -%}
    {#- A temporary view of every physical line of every *.jsonl file under `path` (the text
        reader, split on \n only, recursive), for a pre_hook. -#}
    create or replace temporary view {{ view }} using text
    options (path '{{ path }}', recursivefilelookup 'true', pathglobfilter '*.jsonl', linesep '\n')
{%- endmacro %}

{% macro spark_file_lines(view, relative_path_pattern) -%}
    {#- One row per line of the text view `view`: its file (`file_path`, and `relative_path`,
        the first group of `relative_path_pattern` matched at the end of the path), a content
        signature of the file (line count and a sum of line hashes: a view shows no size or
        modification time), the line number (from 1, blank lines counted, as an editor numbers
        them), whether it is blank, and its bytes as they are (not decoded).

        Line numbers: spark.read.json would lose them. Each line gets its position within its
        file split (monotonically_increasing_id, read order) and the split's offset
        (input_file_block_start); numbering by (offset, position) per file gives the physical
        order. -#}
    select
        file_path,
        relative_path,
        concat(
            cast(count(*) over (partition by file_path) as string), ':',
            cast(sum(xxhash64(value)) over (partition by file_path) as string)
        ) as file_signature,
        cast(row_number() over (partition by file_path order by block_start, read_position) as bigint)
            as line_number,
        value rlike '^\\s*$' as is_blank,
        cast(value as binary) as raw_bytes
    from (
        select
            value,
            input_file_name() as file_path,
            regexp_extract(input_file_name(), '{{ relative_path_pattern }}$', 1) as relative_path,
            input_file_block_start() as block_start,
            monotonically_increasing_id() as read_position
        from {{ view }}
    ) as read_lines
{%- endmacro %}
