{#- Shared steps of the five base_pozytywka__*_parsed models and base_serving__answers_parsed
    (staging only; engine-specific SQL through the dispatched helpers of pozytywka_json.sql). -#}

{% macro landed_json_lines(raw_lines, fields, array_positions=none) -%}
    {{ return(adapter.dispatch('landed_json_lines')(raw_lines, fields, array_positions)) }}
{%- endmacro %}

{% macro spark__landed_json_lines(raw_lines, fields, array_positions=none) -%}
    {#- As duckdb__landed_json_lines below, with Spark 4's VARIANT: each line parsed once
        (try_parse_json), each field taken out as JSON text (to_json of variant_get), so the
        json_* macros see the same minified text as on DuckDB. -#}
    select
        source_file,
        file_signature,
        line_number,
        raw_bytes,
        line_text,
        parsed is not null as is_json,
        case
            when parsed is null then null
            when left(ltrim(line_text), 1) = '{' then 'OBJECT'
            when left(ltrim(line_text), 1) = '[' then 'ARRAY'
            else 'SCALAR'
        end as json_shape,
        {%- if array_positions %}
        case
            when parsed is not null and left(ltrim(line_text), 1) = '[' then json_array_length(line_text)
        end as array_length,
        {%- endif %}
        {%- for f in fields %}
        {%- if array_positions %}
        case
            when left(ltrim(line_text), 1) = '[' then to_json(variant_get(parsed, '$[{{ array_positions[loop.index0] }}]'))
            else to_json(variant_get(parsed, '$["{{ f }}"]'))
        end as {{ f }}_json{{ "," if not loop.last }}
        {%- else %}
        to_json(variant_get(parsed, '$["{{ f }}"]')) as {{ f }}_json{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from (
        select
            *,
            try_parse_json(line_text) as parsed
        from (
            select
                *,
                {{ decode_raw_line('raw_bytes') }} as line_text
            from {{ raw_lines }}
            where not is_blank
        ) as decoded
    ) as extracted
{%- endmacro %}

{% macro duckdb__landed_json_lines(raw_lines, fields, array_positions=none) -%}
    {#-
        Non-blank landed lines with their text (null if not UTF-8), their JSON shape and one
        `<field>_json` column per name in `fields` (a JSON value, or null when absent).
        The line is parsed once: json_extract with a list of paths. Rows that are JSON arrays
        take their fields by position (`array_positions`, same order as `fields`).
    -#}
    {%- set object_paths = [] -%}
    {%- for f in fields -%}{%- do object_paths.append("'$.\"" ~ f ~ "\"'") -%}{%- endfor -%}
    select
        source_file,
        file_signature,
        line_number,
        raw_bytes,
        line_text,
        fields_json is not null as is_json,
        case
            when fields_json is null then null
            when left(ltrim(line_text), 1) = '{' then 'OBJECT'
            when left(ltrim(line_text), 1) = '[' then 'ARRAY'
            else 'SCALAR'
        end as json_shape,
        {%- if array_positions %}
        case
            when fields_json is not null and left(ltrim(line_text), 1) = '[' then json_array_length(line_text)
        end as array_length,
        {%- endif %}
        {%- for f in fields %}
        fields_json[{{ loop.index }}] as {{ f }}_json{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select
            *,
            {%- if array_positions %}
            case
                when left(ltrim(line_text), 1) = '['
                    then try(json_extract(line_text, [{% for p in array_positions %}'$[{{ p }}]'{{ ", " if not loop.last }}{% endfor %}]))
                else try(json_extract(line_text, [{{ object_paths | join(', ') }}]))
            end as fields_json
            {%- else %}
            try(json_extract(line_text, [{{ object_paths | join(', ') }}])) as fields_json
            {%- endif %}
        from (
            select
                *,
                {{ decode_raw_line('raw_bytes') }} as line_text
            from {{ raw_lines }}
            where not is_blank
        ) as decoded
    ) as extracted
{%- endmacro %}

{% macro line_level_reasons(shapes=['OBJECT']) -%}
    {#- The first WHEN branches of every quarantine_reason: the line itself is unusable. -#}
    when line_text is null then 'invalid_utf8'
    when not is_json then 'malformed_json'
    when json_shape not in ('{{ shapes | join("', '") }}') then 'not_an_object'
{%- endmacro %}

{% macro quarantine_raw_line() -%}
    {#- The raw line kept for quarantined rows only (the good ones are in their typed columns). -#}
    case when quarantine_reason is not null then coalesce({{ strip_line_ending('line_text') }}, {{ escaped_raw_line('raw_bytes') }}) end
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

{% macro landed_lines_to_parse(entity, landing) -%}
    {#- The lines of one entity in `landing` (the landing relation: the raw export's,
        base_pozytywka__landed_lines, or the served-answer logs', base_serving__landed_lines) that
        this run must parse: all of them on a full build; on an incremental run only the files
        landed anew (new, or changed signature; macro files_to_parse). The parsed models are
        incremental by source_file. -#}
    select landed.* from {{ landing }} as landed
    where
        landed.entity = '{{ entity }}'
        {%- if is_incremental() %}
            -- the files as literals, read before the model runs: the engine filters the
            -- landing's file column first and reads no other column of the other files' lines
            -- (a subquery here read every landed line: 26.0 s against 2.4 s at 10x the v2 preset)
            {%- set files = files_to_parse(entity, landing) %}
            {%- if files %}
            and landed.source_file in (
                {%- for f in files %}'{{ f | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
            )
            {%- else %}
            and 1 = 0
            {%- endif %}
        {%- endif %}
{%- endmacro %}

{% macro files_to_parse(entity, landing) -%}
    {#- At execution, the source_file of every file of `entity` that `landing` holds with a
        (source_file, file_signature) pair this model does not have yet, sorted; empty when
        parsing (not executing). `landing` must be a relation a query can name on its own (a
        table or a view, not an ephemeral model). -#}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select files.source_file
        from (
            select distinct source_file, file_signature
            from {{ landing }}
            where entity = '{{ entity }}'
        ) as files
        where not {{ file_already_in_this('files') }}
        order by files.source_file
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}
