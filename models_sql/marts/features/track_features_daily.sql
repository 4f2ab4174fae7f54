{{ config(unique_key='feature_date', partition_by=engine_partition_by('feature_date')) }}
{#- fct_listens: what changed since this model's last run (on an incremental run) -#}
{%- set fct_listens = ref('fct_listens') %}

{#- One row per track per feature date: the track's listening history strictly before that date,
    with skip and like rates smoothed toward the global rates known before that date. Static
    track attributes (audio features, popularity, storage) are in dim_tracks. -#}

{%- set windows = var('feature_windows_days') -%}

with

track_daily as {{ not_materialized_cte() }} (

    select * from {{ ref('int_track_listens_daily') }}

),

global_features as (

    select * from {{ ref('global_features_daily') }}

),

history as (

    {{ point_in_time_history(
        'track_daily', fct_listens, 'track', ['track_id'], ['listens', 'skips', 'likes'],
        days_since_column='track_days_since_last_listen',
        daily_table=ref('int_track_listens_daily'),
    ) }}

),

final as (

    select
        history.track_id,
        history.feature_date,
        history.track_listens_before,
        history.track_skips_before,
        history.track_likes_before,
        {{ smoothed_rate('history.track_skips_before', 'history.track_listens_before',
            'global_features.global_skip_rate', var('skip_rate_prior_weight')) }} as track_skip_rate,
        {{ smoothed_rate('history.track_likes_before', 'history.track_listens_before',
            'global_features.global_like_rate', var('like_rate_prior_weight')) }} as track_like_rate,
        {%- for w in windows %}
            history.track_listens_{{ w }}d,
            history.track_skips_{{ w }}d,
            {{ smoothed_rate('history.track_skips_' ~ w ~ 'd', 'history.track_listens_' ~ w ~ 'd',
                'global_features.global_skip_rate', var('skip_rate_prior_weight')) }} as track_skip_rate_{{ w }}d,
        {%- endfor %}
        coalesce(
            history.day_number - history.last_listen_day_number,
            {{ var('days_since_last_listen_cold_start') }}
        ) as track_days_since_last_listen,
        {{ run_loaded_at() }} as loaded_at
    from history
    inner join global_features
        on history.feature_date = global_features.feature_date

)

select * from final
