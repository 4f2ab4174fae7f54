{{ config(unique_key='feature_date', partition_by=engine_partition_by('feature_date')) }}
{#- fct_listens: what changed since this model's last run (on an incremental run) -#}
{%- set fct_listens = ref('fct_listens') %}

{#- One row per user per feature date: the user's listening history strictly before that date
    (all of it, and the last var('feature_windows_days') days), with skip and like rates
    smoothed toward the global rates known before that date. -#}

{%- set windows = var('feature_windows_days') -%}

with

user_daily as {{ not_materialized_cte() }} (

    select * from {{ ref('int_user_listens_daily') }}

),

global_features as (

    select * from {{ ref('global_features_daily') }}

),

history as (

    {{ point_in_time_history(
        'user_daily', fct_listens, 'user', ['user_id'], ['listens', 'skips', 'likes'],
        days_since_column='user_days_since_last_listen',
        daily_table=ref('int_user_listens_daily'),
    ) }}

),

final as (

    select
        history.user_id,
        history.feature_date,
        history.user_listens_before,
        history.user_skips_before,
        history.user_likes_before,
        {{ smoothed_rate('history.user_skips_before', 'history.user_listens_before',
            'global_features.global_skip_rate', var('skip_rate_prior_weight')) }} as user_skip_rate,
        {{ smoothed_rate('history.user_likes_before', 'history.user_listens_before',
            'global_features.global_like_rate', var('like_rate_prior_weight')) }} as user_like_rate,
        {{ clamped_logit(smoothed_rate('history.user_skips_before', 'history.user_listens_before',
            'global_features.global_skip_rate', var('skip_rate_prior_weight'))) }} as user_skip_logit,
        {%- for w in windows %}
            history.user_listens_{{ w }}d,
            history.user_skips_{{ w }}d,
            {{ smoothed_rate('history.user_skips_' ~ w ~ 'd', 'history.user_listens_' ~ w ~ 'd',
                'global_features.global_skip_rate', var('skip_rate_prior_weight')) }} as user_skip_rate_{{ w }}d,
        {%- endfor %}
        coalesce(
            history.day_number - history.last_listen_day_number,
            {{ var('days_since_last_listen_cold_start') }}
        ) as user_days_since_last_listen,
        {{ run_loaded_at() }} as loaded_at
    from history
    inner join global_features
        on history.feature_date = global_features.feature_date

)

select * from final
