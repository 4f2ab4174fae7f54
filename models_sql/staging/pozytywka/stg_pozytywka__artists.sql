with

parsed_artists as (

    select * from {{ ref('base_pozytywka__artists_parsed') }}

),

final as (

    select * exclude (quarantine_reason, raw_line, file_signature) from parsed_artists
    where quarantine_reason is null

)

select * from final
