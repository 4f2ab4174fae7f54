{#-
    Helpers that turn landed raw lines into typed values, dispatched per engine (DuckDB's JSON
    functions, Spark 4's VARIANT ones) where both engines parse the raw exports; json_iso_date
    and json_utc_timestamp parse the served-answer logs, which only DuckDB lands. They are used
    by the staging layer alone (the rest of the project never parses JSON or reads files).

    Each json_* macro takes one JSON value (as returned by json_extract) and gives the typed
    value, or null when the value is absent, JSON null, or of the wrong type. Whether a value is
    absent/null or of a wrong type is told apart by json_is_missing() so that the quarantine
    reason can say which.
-#}

{% macro decode_raw_line(bytes_col) -%}
    {{ return(adapter.dispatch('decode_raw_line')(bytes_col)) }}
{%- endmacro %}

{% macro spark__decode_raw_line(bytes_col) -%}
    {#- Spark lands each line without its newline (spark.read.text with lineSep \n); a string
        cast of the bytes keeps them as they are, so validity is checked apart. -#}
    case when is_valid_utf8(cast({{ bytes_col }} as string)) then cast({{ bytes_col }} as string) end
{%- endmacro %}

{% macro duckdb__decode_raw_line(bytes_col) -%}
    {#- UTF-8 text of a landed line, line ending included (JSON takes it as whitespace); null
        when the bytes are not UTF-8. Trimming it here, for every line, cost 1.5-2 s of the
        sessions parse on 4.7 M lines: only quarantined lines are trimmed (macro
        strip_line_ending). -#}
    try(decode({{ bytes_col }}))
{%- endmacro %}

{% macro strip_line_ending(text) -%}
    {{ return(adapter.dispatch('strip_line_ending')(text)) }}
{%- endmacro %}

{% macro duckdb__strip_line_ending(text) -%}
    rtrim({{ text }}, chr(13) || chr(10))
{%- endmacro %}

{% macro spark__strip_line_ending(text) -%}
    regexp_replace({{ text }}, '[\\r\\n]+$', '')
{%- endmacro %}

{% macro escaped_raw_line(bytes_col) -%}
    {#- A printable form of any line, for quarantine: non-ASCII bytes escaped as \xNN. -#}
    {{ return(adapter.dispatch('escaped_raw_line')(bytes_col)) }}
{%- endmacro %}

{% macro duckdb__escaped_raw_line(bytes_col) -%}
    regexp_replace(cast({{ bytes_col }} as varchar), '(\\x0D)?\\x0A$', '')
{%- endmacro %}

{% macro spark__escaped_raw_line(bytes_col) -%}
    {#- As DuckDB's blob-to-text cast: bytes below 0x20 or from 0x7F on as \xNN (upper-case hex),
        one character per byte through ISO-8859-1; a final carriage return dropped. -#}
    regexp_replace(
        array_join(transform(
            split(decode({{ bytes_col }}, 'ISO-8859-1'), ''),
            c -> case
                when ascii(c) between 32 and 126 then c
                else concat('\\x', upper(hex(encode(c, 'ISO-8859-1'))))
            end
        ), ''),
        '(\\\\x0D)$', ''
    )
{%- endmacro %}

{% macro re_full_match(text, pattern) -%}
    {#- True when `pattern` matches the whole of `text` (the pattern holds no quote). -#}
    {{ return(adapter.dispatch('re_full_match')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__re_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__re_full_match(text, pattern) -%}
    ({{ text }} rlike '^(?:{{ pattern | replace("\\", "\\\\") }})$')
{%- endmacro %}

{% macro json_scalar_text(j) -%}
    {#- The text of a JSON string value (unquoted, unescaped). -#}
    {{ return(adapter.dispatch('json_scalar_text')(j)) }}
{%- endmacro %}

{% macro duckdb__json_scalar_text(j) -%}
    json_extract_string({{ j }}, '$')
{%- endmacro %}

{% macro spark__json_scalar_text(j) -%}
    get_json_object({{ j }}, '$')
{%- endmacro %}

{% macro json_type_is(j, json_type) -%}
    {#- DuckDB's json_type(j) = json_type ('VARCHAR', 'ARRAY'); elsewhere told by the first
        character of the minified JSON text. -#}
    {{ return(adapter.dispatch('json_type_is')(j, json_type)) }}
{%- endmacro %}

{% macro duckdb__json_type_is(j, json_type) -%}
    (json_type({{ j }}) = '{{ json_type }}')
{%- endmacro %}

{% macro spark__json_type_is(j, json_type) -%}
    (left({{ j }}, 1) = '{{ {"VARCHAR": "\"", "ARRAY": "[", "OBJECT": "{"}[json_type] }}')
{%- endmacro %}

{% macro empty_string_list() -%}
    {{ return(adapter.dispatch('empty_string_list')()) }}
{%- endmacro %}

{% macro duckdb__empty_string_list() -%}
    []::varchar[]
{%- endmacro %}

{% macro spark__empty_string_list() -%}
    cast(array() as array<string>)
{%- endmacro %}

{% macro unnest_list(list_column) -%}
    {{ return(adapter.dispatch('unnest_list')(list_column)) }}
{%- endmacro %}

{% macro duckdb__unnest_list(list_column) -%}
    unnest({{ list_column }})
{%- endmacro %}

{% macro spark__unnest_list(list_column) -%}
    explode({{ list_column }})
{%- endmacro %}

{% macro regexp_replace_all(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro duckdb__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}')
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
        when {{ re_full_match(j, '-?[0-9]+') }} then try_cast({{ j }} as bigint)
        when {{ re_full_match(j, '-?[0-9]+\\.0+') }} then try_cast(try_cast({{ j }} as double) as bigint)
        when {{ json_is_string(j) }} and {{ re_full_match('trim(' ~ json_scalar_text(j) ~ ')', '-?[0-9]+') }}
            then try_cast(trim({{ json_scalar_text(j) }}) as bigint)
    end
{%- endmacro %}

{% macro json_double(j) -%}
    case
        when {{ json_is_string(j) }} then try_cast(nullif(trim({{ json_scalar_text(j) }}), '') as double)
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
    case when {{ json_is_string(j) }} then nullif(trim({{ json_scalar_text(j) }}), '') end
{%- endmacro %}

{% macro json_text_is_bad(j) -%}
    {#- Present and not null, but not a string (a number where an id string belongs, say). -#}
    (not {{ json_is_missing(j) }} and not {{ json_is_string(j) }})
{%- endmacro %}

{% macro json_string_list(j) -%}
    {#- A JSON array of strings as a list of distinct, trimmed, lower-case strings. -#}
    {{ return(adapter.dispatch('json_string_list')(j)) }}
{%- endmacro %}

{% macro spark__json_string_list(j) -%}
    case
        when left({{ j }}, 1) = '[' then array_sort(array_distinct(
            filter(
                transform(from_json({{ j }}, 'array<string>'), g -> nullif(lower(trim(g)), '')),
                g -> g is not null
            )
        ))
    end
{%- endmacro %}

{% macro duckdb__json_string_list(j) -%}
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
    {{ return(adapter.dispatch('parse_event_timestamp')(j)) }}
{%- endmacro %}

{% macro spark__parse_event_timestamp(j) -%}
    {#- As duckdb__parse_event_timestamp below; Spark's `timestamp` is TIMESTAMP_NTZ here (profile). -#}
    case
        when {{ j }} rlike '^-?[0-9]+$' then
            cast(from_utc_timestamp(timestamp_millis(try_cast({{ j }} as bigint)), '{{ var("epoch_ms_timezone") }}') as timestamp)
        when {{ j }} like '"____-__-__T__:__:__%' and {{ j }} not like '%+%' and {{ j }} not like '%Z"'
            then try_cast({{ json_scalar_text(j) }} as timestamp)
        when {{ json_is_string(j) }} then
            try_cast(
                nullif(regexp_extract(
                    trim({{ json_scalar_text(j) }}),
                    '^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?) ?(Z|[+-][0-9]{2}(:?[0-9]{2}(:[0-9]{2})?)?)?$',
                    1
                ), '') as timestamp
            )
    end
{%- endmacro %}

{% macro duckdb__parse_event_timestamp(j) -%}
    {#-
        All timestamp spellings to one TIMESTAMP on the export's wall clock:
        - ISO text with or without fraction, 'T' or space: taken as written;
        - text with a trailing UTC offset ("... +02:00:00", "+02:00", "Z"): the wall-clock part
          as written, the offset dropped (it names the zone of that wall clock);
        - an integer: epoch milliseconds, an instant, shown on the wall clock of
          var('epoch_ms_timezone').
        The caller rejects values outside 2000-01-01 .. 2100-01-01 (macro plausible_timestamp).
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
    {{ return(adapter.dispatch('json_iso_date')(j)) }}
{%- endmacro %}

{% macro spark__json_iso_date(j) -%}
    case
        when {{ json_is_string(j) }} and {{ re_full_match('trim(' ~ json_scalar_text(j) ~ ')', '[0-9]{4}-[0-9]{2}-[0-9]{2}') }}
            then try_cast(trim({{ json_scalar_text(j) }}) as date)
    end
{%- endmacro %}

{% macro duckdb__json_iso_date(j) -%}
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
    {{ return(adapter.dispatch('json_utc_timestamp')(j)) }}
{%- endmacro %}

{% macro spark__json_utc_timestamp(j) -%}
    {#- Spark's `timestamp` is TIMESTAMP_NTZ here (profile) and the session is in UTC: text with
        an offset is read as an instant (TIMESTAMP_LTZ) and shown on the UTC wall clock. -#}
    case
        when {{ json_is_string(j) }} then (
            case
                when {{ re_full_match('trim(' ~ json_scalar_text(j) ~ ')', '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)') }}
                    then cast(try_cast(trim({{ json_scalar_text(j) }}) as timestamp_ltz) as timestamp)
                when {{ re_full_match('trim(' ~ json_scalar_text(j) ~ ')', '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?') }}
                    then try_cast(trim({{ json_scalar_text(j) }}) as timestamp)
            end
        )
    end
{%- endmacro %}

{% macro duckdb__json_utc_timestamp(j) -%}
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
