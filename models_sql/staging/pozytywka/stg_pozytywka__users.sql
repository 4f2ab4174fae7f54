with

parsed_users as (

    select * from {{ ref('base_pozytywka__users_parsed') }}

),

final as (

    select * exclude (quarantine_reason, raw_line, file_signature) from parsed_users
    where quarantine_reason is null

)

select * from final
