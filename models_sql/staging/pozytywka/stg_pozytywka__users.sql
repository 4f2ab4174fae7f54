with

parsed_users as (

    select * from {{ ref('base_pozytywka__users_parsed') }}

),

final as (

    select
        source_file,
        line_number,
        user_id,
        user_name,
        city,
        street,
        favourite_genres,
        has_favourite_genres,
        is_premium
    from parsed_users
    where quarantine_reason is null

)

select * from final
