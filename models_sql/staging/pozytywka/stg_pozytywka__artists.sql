with

parsed_artists as (

    select * from {{ ref('base_pozytywka__artists_parsed') }}

),

final as (

    select
        source_file,
        line_number,
        artist_id,
        artist_name,
        genres,
        has_genres
    from parsed_artists
    where quarantine_reason is null

)

select * from final
