{#- One row per (artist, genre): the artists' genre lists unnested (DuckDB-only unnest). -#}

with

artists as (

    select * from {{ ref('stg_pozytywka__artists') }}

),

final as (

    select distinct
        artist_id,
        unnest(genres) as genre
    from artists

)

select * from final
