{#- One row per user: premium flag and favourite genres as the users file has them now. -#}

with

users as (

    select * from {{ ref('stg_pozytywka__users') }}

),

favourites as (

    select
        user_id,
        count(*) as favourite_genre_count
    from {{ ref('stg_pozytywka__user_favourite_genres') }}
    group by user_id

),

final as (

    select
        users.user_id,
        users.user_name,
        users.city,
        users.is_premium,
        users.favourite_genres,
        users.has_favourite_genres,
        coalesce(favourites.favourite_genre_count, 0) as favourite_genre_count
    from users
    left join favourites
        on users.user_id = favourites.user_id

)

select * from final
