{#-
    Every non-blank line of artists.jsonl, parsed, with `quarantine_reason` null for a good
    artist. Dirty exports write `"id": -1` (an integer): quarantined as bad_type_id, so tracks
    of those artists have no known artist (flagged in stg_pozytywka__tracks).
-#}

with

raw_lines as (

    {{ landed_lines_to_parse('artists', ref('base_pozytywka__landed_lines')) }}

),

fields as (

    {{ landed_json_lines('raw_lines', ['id', 'name', 'genres']) }}

),

typed as (

    select
        *,
        {{ json_text('id_json') }} as artist_id,
        {{ json_text('name_json') }} as artist_name,
        {{ json_string_list('genres_json') }} as genres
    from fields

),

judged_rows as (

    select
        *,
        case
            {{ line_level_reasons() }}
            when {{ json_is_missing('id_json') }} or artist_id is null and {{ json_type_is('id_json', 'VARCHAR') }} then 'null_artist_id'
            when artist_id is null then 'bad_type_id'
            when not {{ json_is_missing('genres_json') }} and not {{ json_type_is('genres_json', 'ARRAY') }} then 'bad_type_genres'
        end as row_reason
    from typed

),

judged as (

    select
        *,
        {{ first_occurrence_reason('row_reason', 'artist_id', 'duplicate_artist_id') }} as quarantine_reason
    from judged_rows

),

final as (

    select
        source_file,
        file_signature,
        line_number,
        quarantine_reason,
        {{ quarantine_raw_line() }} as raw_line,
        artist_id,
        artist_name,
        coalesce(genres, {{ empty_string_list() }}) as genres,
        genres is not null as has_genres
    from judged

)

select * from final
