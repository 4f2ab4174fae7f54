{#-
    DuckDB-only helpers that turn landed raw lines into typed values. They are used by the
    staging layer alone (the rest of the project never parses JSON or reads files).

    Each json_* macro takes one JSON value (as returned by json_extract) and gives the typed
    value, or null when the value is absent, JSON null, or of the wrong type. Whether a value is
    absent/null or of a wrong type is told apart by json_is_missing() so that the quarantine
    reason can say which.
-#}

{% macro decode_raw_line(bytes_col) -%}
    {#- UTF-8 text of a landed line, line ending included (JSON takes it as whitespace); null
        when the bytes are not UTF-8. Trimming it here, for every line, cost 1.5-2 s of the
        sessions parse on 4.7 M lines: only quarantined lines are trimmed (macro
        strip_line_ending). -#}
    try(decode({{ bytes_col }}))
{%- endmacro %}

{% macro strip_line_ending(text) -%}
    rtrim({{ text }}, chr(13) || chr(10))
{%- endmacro %}

{% macro escaped_raw_line(bytes_col) -%}
    {#- A printable form of any line, for quarantine: non-ASCII bytes escaped as \xNN. -#}
    regexp_replace(cast({{ bytes_col }} as varchar), '(\\x0D)?\\x0A$', '')
{%- endmacro %}

{#- The values are JSON text as json_extract returns it (minified), so its kind shows in its
    first character: '"' a string, a digit or '-' a number, 't'/'f' a boolean, 'n' null.
    Checking that is much cheaper than json_type on millions of rows. -#}

{% macro json_is_missing(j) -%}
    ({{ j }} is null or {{ j }} = 'null')
{%- endmacro %}

{% macro json_is_string(j) -%}
    (left({{ j }}, 1) = '"')
{%- endmacro %}

{% macro json_int(j) -%}
    {#- A JSON integer (1.0 counts), or a string holding only an integer ("101"). -#}
    case
        when regexp_full_match({{ j }}, '-?[0-9]+') then try_cast({{ j }} as bigint)
        when regexp_full_match({{ j }}, '-?[0-9]+\.0+') then try_cast(try_cast({{ j }} as double) as bigint)
        when {{ json_is_string(j) }} and regexp_full_match(trim(json_extract_string({{ j }}, '$')), '-?[0-9]+')
            then try_cast(trim(json_extract_string({{ j }}, '$')) as bigint)
    end
{%- endmacro %}

{% macro json_double(j) -%}
    case
        when {{ json_is_string(j) }} then try_cast(nullif(trim(json_extract_string({{ j }}, '$')), '') as double)
        when {{ j }} not in ('true', 'false') then try_cast({{ j }} as double)
    end
{%- endmacro %}

{% macro json_bool(j) -%}
    case
        when {{ j }} in ('true', '1', '"true"', '"1"') then true
        when {{ j }} in ('false', '0', '"false"', '"0"') then false
    end
{%- endmacro %}

{% macro json_text(j) -%}
    {#- A JSON string, trimmed; '' counts as missing. -#}
    case when {{ json_is_string(j) }} then nullif(trim(json_extract_string({{ j }}, '$')), '') end
{%- endmacro %}

{% macro json_text_is_bad(j) -%}
    {#- Present and not null, but not a string (a number where an id string belongs, say). -#}
    (not {{ json_is_missing(j) }} and not {{ json_is_string(j) }})
{%- endmacro %}

{% macro json_string_list(j) -%}
    {#- A JSON array of strings as a list of distinct, trimmed, lower-case strings. -#}
    case
        when json_type({{ j }}) = 'ARRAY' then list_sort(list_distinct(
            list_filter(
                list_transform(json_extract_string({{ j }}, '$[*]'), lambda g: nullif(lower(trim(g)), '')),
                lambda g: g is not null
            )
        ))
    end
{%- endmacro %}

{% macro parse_event_timestamp(j) -%}
    {#-
        All timestamp spellings to one TIMESTAMP on the export's wall clock:
        - ISO text with or without fraction, 'T' or space: taken as written;
        - text with a trailing UTC offset ("... +02:00:00", "+02:00", "Z"): the wall-clock part
          as written, the offset dropped (it names the zone of that wall clock);
        - an integer: epoch milliseconds, an instant, shown on the wall clock of
          var('epoch_ms_timezone').
        Values outside 2000-01-01 .. 2100-01-01 are treated as unparseable.
    -#}
    case
        when regexp_full_match({{ j }}, '-?[0-9]+') then
            timezone(
                '{{ var("epoch_ms_timezone") }}',
                timezone('UTC', epoch_ms(try_cast({{ j }} as bigint)))
            )
        {#- the common ISO spelling, without offset: a cheap pattern, then a cast -#}
        when {{ j }} like '"____-__-__T__:__:__%' and {{ j }} not like '%+%' and {{ j }} not like '%Z"'
            then try_cast(json_extract_string({{ j }}, '$') as timestamp)
        when {{ json_is_string(j) }} then
            try_cast(
                regexp_extract(
                    trim(json_extract_string({{ j }}, '$')),
                    '^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?) ?(Z|[+-][0-9]{2}(:?[0-9]{2}(:[0-9]{2})?)?)?$',
                    1
                ) as timestamp
            )
    end
{%- endmacro %}

{% macro plausible_timestamp(ts) -%}
    ({{ ts }} >= timestamp '2000-01-01' and {{ ts }} < timestamp '2100-01-01')
{%- endmacro %}

{% macro json_iso_date(j) -%}
    {#- A JSON string holding an ISO date (2024-05-02); null otherwise. -#}
    case
        when {{ json_is_string(j) }} and regexp_full_match(trim(json_extract_string({{ j }}, '$')), '[0-9]{4}-[0-9]{2}-[0-9]{2}')
            then try_cast(trim(json_extract_string({{ j }}, '$')) as date)
    end
{%- endmacro %}

{% macro json_utc_timestamp(j) -%}
    {#-
        An instant written as ISO text (the served-answer logs: 2024-05-02T10:11:12.123456Z) as
        a TIMESTAMP in UTC: an offset (Z, +02:00) is applied, unlike the export's wall clock;
        text without an offset is taken as UTC. Null when unparseable (check the range with
        plausible_timestamp).
    -#}
    case
        when {{ json_is_string(j) }} then (
            case
                when regexp_full_match(
                    trim(json_extract_string({{ j }}, '$')),
                    '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)'
                )
                    then timezone('UTC', try_cast(trim(json_extract_string({{ j }}, '$')) as timestamptz))
                when regexp_full_match(
                    trim(json_extract_string({{ j }}, '$')),
                    '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?'
                )
                    then try_cast(trim(json_extract_string({{ j }}, '$')) as timestamp)
            end
        )
    end
{%- endmacro %}
