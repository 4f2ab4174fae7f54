{#- One row per (user, favourite genre): the users' lists unnested. -#}

with

users as (

    select * from {{ ref('stg_pozytywka__users') }}

),

final as (

    select distinct
        user_id,
        {{ unnest_list('favourite_genres') }} as genre
    from users

)

select * from final
