{#- One row per night and track played in the recent window before it: its recent plays, by
    which the genre and global tops and the per-user caps rank tracks. -#}

with

recent_listens as (

    select * from {{ ref('int_candidates__recent_listens') }}

),

final as (

    select
        decision_date,
        track_id,
        count(*) as recent_plays
    from recent_listens
    group by decision_date, track_id

)

select * from final
