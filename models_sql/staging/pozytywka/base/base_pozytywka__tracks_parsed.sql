{#-
    Every non-blank line of tracks.jsonl, parsed, with `quarantine_reason` null for a good track.
    Audio features, popularity and the like may be absent (kept as null) but not of a wrong type.
-#}

{%- set int_fields = ['popularity', 'duration_ms', 'explicit', 'key', 'mode', 'time_signature'] -%}
{%- set float_fields = [
    'danceability', 'energy', 'loudness', 'speechiness', 'acousticness',
    'instrumentalness', 'liveness', 'valence', 'tempo',
] -%}

with

raw_lines as (

    {{ landed_lines_to_parse('tracks', ref('base_pozytywka__landed_lines')) }}

),

fields as (

    {{ landed_json_lines('raw_lines', ['id', 'id_artist', 'name', 'release_date'] + int_fields + float_fields) }}

),

typed as (

    select
        *,
        {%- for f in int_fields %}
            {{ json_int(f ~ '_json') }} as {{ f }},
        {%- endfor %}
        {%- for f in float_fields %}
            {{ json_double(f ~ '_json') }} as {{ f }},
        {%- endfor %}
        {{ json_text('id_json') }} as track_id,
        {{ json_text('id_artist_json') }} as artist_id,
        {{ json_text('name_json') }} as track_name,
        {{ json_text('release_date_json') }} as release_date_raw
    from fields

),

dated as (

    select
        *,
        case
            when {{ re_full_match('release_date_raw', '[0-9]{4}') }} then 'year'
            when {{ re_full_match('release_date_raw', '[0-9]{4}-[0-9]{2}') }} then 'month'
            when {{ re_full_match('release_date_raw', '[0-9]{4}-[0-9]{2}-[0-9]{2}') }} then 'day'
        end as release_date_precision,
        case
            when {{ re_full_match('release_date_raw', '[0-9]{4}') }} then try_cast(release_date_raw || '-01-01' as date)
            when {{ re_full_match('release_date_raw', '[0-9]{4}-[0-9]{2}') }} then try_cast(release_date_raw || '-01' as date)
            when {{ re_full_match('release_date_raw', '[0-9]{4}-[0-9]{2}-[0-9]{2}') }} then try_cast(release_date_raw as date)
        end as released_on
    from typed

),

judged_rows as (

    select
        *,
        case
            {{ line_level_reasons() }}
            when {{ json_is_missing('id_json') }} or track_id is null and {{ json_type_is('id_json', 'VARCHAR') }} then 'null_track_id'
            when track_id is null then 'bad_type_id'
            when {{ json_text_is_bad('id_artist_json') }} then 'bad_type_id_artist'
            {%- for f in int_fields + float_fields %}
                when not {{ json_is_missing(f ~ '_json') }} and {{ f }} is null then 'bad_type_{{ f }}'
            {%- endfor %}
            when release_date_raw is not null and released_on is null then 'bad_release_date'
            when {{ json_text_is_bad('release_date_json') }} then 'bad_release_date'
        end as row_reason
    from dated

),

judged as (

    select
        *,
        {{ first_occurrence_reason('row_reason', 'track_id', 'duplicate_track_id') }} as quarantine_reason
    from judged_rows

),

final as (

    select
        source_file,
        file_signature,
        line_number,
        quarantine_reason,
        {{ quarantine_raw_line() }} as raw_line,
        track_id,
        artist_id,
        track_name,
        popularity,
        duration_ms,
        explicit = 1 as is_explicit,
        released_on,
        release_date_precision,
        cast(year(released_on) as bigint) as release_year,
        {%- for f in float_fields %}
            {{ f }},
        {%- endfor %}
        key as musical_key,
        mode as musical_mode,
        time_signature
    from judged

)

select * from final
