{{ config(unique_key='feature_date', partition_by=engine_partition_by('feature_date')) }}
{#- fct_listens: what changed since this model's last run (on an incremental run) -#}
{%- set fct_listens = ref('fct_listens') %}

{#- One row per user per genre per feature date: how often the user listened to and skipped
    tracks of that genre strictly before that date. -#}

with

user_genre_daily as {{ not_materialized_cte() }} (

    select * from {{ ref('int_user_genre_listens_daily') }}

),

history as (

    {{ point_in_time_history(
        'user_genre_daily', fct_listens, 'user_genre', ['user_id', 'genre'], ['listens', 'skips'], window_columns=[],
        daily_table=ref('int_user_genre_listens_daily')
    ) }}

),

final as (

    select
        user_id,
        genre,
        feature_date,
        user_genre_listens_before,
        user_genre_skips_before,
        {{ run_loaded_at() }} as loaded_at
    from history

)

select * from final
