{{ config(unique_key='listen_date', partition_by=engine_partition_by('listen_date')) }}

{#- One row per user per genre per day with listens of that genre (a track's genres are its
    artist's genres): listens, skips. -#}

with

listens as (

    select * from {{ ref('fct_listens') }}
    {% if is_incremental() %}
        where listen_date >= {{ first_changed_listen_date(ref('fct_listens')) }}
    {% endif %}

),

tracks as (

    select * from {{ ref('stg_pozytywka__tracks') }}

),

artist_genres as (

    select * from {{ ref('stg_pozytywka__artist_genres') }}

),

listen_genres as (

    select
        listens.user_id,
        listens.listen_date,
        listens.is_skipped,
        artist_genres.genre
    from listens
    inner join tracks
        on listens.track_id = tracks.track_id
    inner join artist_genres
        on tracks.artist_id = artist_genres.artist_id

),

final as (

    select
        user_id,
        genre,
        listen_date,
        cast(count(*) as bigint) as listens,
        cast(sum(case when is_skipped then 1 else 0 end) as bigint) as skips,
        {{ run_loaded_at() }} as loaded_at
    from listen_genres
    group by user_id, genre, listen_date

)

select * from final
