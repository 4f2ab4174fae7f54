{#- Shared steps of the five base_pozytywka__*_parsed models (DuckDB-only, staging only). -#}

{% macro landed_json_lines(raw_lines) -%}
    {#- Non-blank landed lines with their text (null if not UTF-8) and JSON shape. -#}
    select
        source_file,
        file_signature,
        line_number,
        raw_bytes,
        line_text,
        line_text is not null and json_valid(line_text) as is_json,
        case when line_text is not null and json_valid(line_text) then json_type(line_text) end as json_shape
    from (
        select
            *,
            {{ decode_raw_line('raw_bytes') }} as line_text
        from {{ raw_lines }}
    ) as decoded
    where line_text is null or trim(line_text, ' ' || chr(9) || chr(13) || chr(10)) <> ''
{%- endmacro %}

{% macro line_level_reasons(shapes=['OBJECT']) -%}
    {#- The first WHEN branches of every quarantine_reason: the line itself is unusable. -#}
    when line_text is null then 'invalid_utf8'
    when not is_json then 'malformed_json'
    when json_shape not in ('{{ shapes | join("', '") }}') then 'not_an_object'
{%- endmacro %}

{% macro quarantine_raw_line() -%}
    {#- The raw line kept for quarantined rows only (the good ones are in their typed columns). -#}
    case when quarantine_reason is not null then coalesce(line_text, {{ escaped_raw_line('raw_bytes') }}) end
{%- endmacro %}

{% macro first_occurrence_reason(reason, key, duplicate_reason) -%}
    {#- Keep the first good line of each key (by file, then line); later good ones are duplicates. -#}
    case
        when {{ reason }} is null
            and row_number() over (
                partition by {{ key }}, {{ reason }} is null order by source_file, line_number
            ) > 1
            then '{{ duplicate_reason }}'
        else {{ reason }}
    end
{%- endmacro %}
