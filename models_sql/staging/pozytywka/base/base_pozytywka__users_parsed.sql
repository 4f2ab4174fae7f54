{#-
    Every non-blank line of users.jsonl, parsed, with `quarantine_reason` null for a good user.
    A null favourite_genres list or premium flag is kept (flagged downstream); the stray
    `"id": -1` key of dirty exports is ignored.
-#}

with

raw_lines as (

    {{ landed_lines_to_parse('users', ref('base_pozytywka__landed_lines')) }}

),

fields as (

    {{ landed_json_lines('raw_lines', ['user_id', 'name', 'city', 'street', 'favourite_genres', 'premium_user']) }}

),

typed as (

    select
        *,
        {{ json_int('user_id_json') }} as user_id,
        {{ json_text('name_json') }} as user_name,
        {{ json_text('city_json') }} as city,
        {{ json_text('street_json') }} as street,
        {{ json_string_list('favourite_genres_json') }} as favourite_genres,
        {{ json_bool('premium_user_json') }} as is_premium
    from fields

),

judged_rows as (

    select
        *,
        case
            {{ line_level_reasons() }}
            when {{ json_is_missing('user_id_json') }} then 'null_user_id'
            when user_id is null then 'bad_type_user_id'
            when
                not {{ json_is_missing('favourite_genres_json') }} and not {{ json_type_is('favourite_genres_json', 'ARRAY') }}
                then 'bad_type_favourite_genres'
            when not {{ json_is_missing('premium_user_json') }} and is_premium is null then 'bad_type_premium_user'
        end as row_reason
    from typed

),

judged as (

    select
        *,
        {{ first_occurrence_reason('row_reason', 'user_id', 'duplicate_user_id') }} as quarantine_reason
    from judged_rows

),

final as (

    select
        source_file,
        file_signature,
        line_number,
        quarantine_reason,
        {{ quarantine_raw_line() }} as raw_line,
        user_id,
        user_name,
        city,
        street,
        coalesce(favourite_genres, {{ empty_string_list() }}) as favourite_genres,
        favourite_genres is not null as has_favourite_genres,
        is_premium
    from judged

)

select * from final
