{{ config(unique_key='listen_date', partition_by=engine_partition_by('listen_date')) }}

{#- One row per track per day with listens: listens, skips, likes. -#}

with

listens as (

    select * from {{ ref('fct_listens') }}
    {% if is_incremental() %}
        where listen_date >= {{ first_changed_listen_date(ref('fct_listens')) }}
    {% endif %}

),

final as (

    select
        track_id,
        listen_date,
        cast(count(*) as bigint) as listens,
        cast(sum(case when is_skipped then 1 else 0 end) as bigint) as skips,
        cast(sum(case when is_liked then 1 else 0 end) as bigint) as likes,
        {{ run_loaded_at() }} as loaded_at
    from listens
    group by track_id, listen_date

)

select * from final
