{#- One row per (artist, genre): the artists' genre lists unnested. -#}

with

artists as (

    select * from {{ ref('stg_pozytywka__artists') }}

),

final as (

    select distinct
        artist_id,
        {{ unnest_list('genres') }} as genre
    from artists

)

select * from final
