{#-
    Every non-blank line of the served-answer logs, parsed, with `quarantine_reason` null for
    a good answer. arm and model_version may be null; every other field is required. Values
    are taken as leniently as in the raw files (an integer user_id written as "101" is one).
-#}

with

raw_lines as (

    {{ landed_lines_to_parse('served_answers', ref('base_serving__landed_lines')) }}

),

fields as (

    {{ landed_json_lines('raw_lines', [
        'request_id', 'served_at', 'endpoint', 'user_id', 'track_id', 'arm', 'policy',
        'model_version', 'decision_date', 'p_play', 'should_cache', 'source',
    ]) }}

),

typed as (

    select
        *,
        {{ json_text('request_id_json') }} as request_id,
        {{ json_utc_timestamp('served_at_json') }} as served_at,
        lower({{ json_text('endpoint_json') }}) as endpoint,
        {{ json_int('user_id_json') }} as user_id,
        {{ json_text('track_id_json') }} as track_id,
        lower({{ json_text('arm_json') }}) as arm,
        {{ json_text('policy_json') }} as policy,  -- noqa: RF04
        {{ json_text('model_version_json') }} as model_version,
        {{ json_iso_date('decision_date_json') }} as decision_date,
        {{ json_double('p_play_json') }} as p_play,
        {{ json_bool('should_cache_json') }} as should_cache,
        lower({{ json_text('source_json') }}) as answer_source
    from fields

),

judged as (

    select
        *,
        case
            {{ line_level_reasons() }}
            when
                {{ json_text_is_bad('request_id_json') }}
                then 'bad_type_request_id'
            when request_id is null then 'null_request_id'
            when {{ json_is_missing('served_at_json') }} then 'null_served_at'
            when served_at is null or not {{ plausible_timestamp('served_at') }} then 'bad_served_at'
            when {{ json_text_is_bad('endpoint_json') }} then 'bad_type_endpoint'
            when endpoint is null then 'null_endpoint'
            when endpoint not in ('naive', 'recommend', 'abtest', 'decisions') then 'unknown_endpoint'
            when {{ json_is_missing('user_id_json') }} then 'null_user_id'
            when user_id is null then 'bad_type_user_id'
            when {{ json_text_is_bad('track_id_json') }} then 'bad_type_track_id'
            when track_id is null then 'null_track_id'
            when {{ json_text_is_bad('arm_json') }} then 'bad_type_arm'
            when arm not in ('model', 'naive', 'holdout') then 'unknown_arm'
            when {{ json_text_is_bad('policy_json') }} then 'bad_type_policy'
            when policy is null then 'null_policy'
            when
                {{ json_text_is_bad('model_version_json') }}
                then 'bad_type_model_version'
            when {{ json_is_missing('decision_date_json') }} then 'null_decision_date'
            when decision_date is null then 'bad_decision_date'
            when {{ json_is_missing('p_play_json') }} then 'null_p_play'
            when p_play is null then 'bad_type_p_play'
            when not (p_play between 0 and 1) then 'bad_p_play'
            when {{ json_is_missing('should_cache_json') }} then 'null_should_cache'
            when should_cache is null then 'bad_type_should_cache'
            when {{ json_text_is_bad('source_json') }} then 'bad_type_source'
            when answer_source is null then 'null_source'
            when answer_source not in ('pair', 'model', 'cold_start', 'track_default') then 'unknown_source'
        end as quarantine_reason
    from typed

),

final as (

    select
        source_file,
        file_signature,
        line_number,
        quarantine_reason,
        {{ quarantine_raw_line() }} as raw_line,
        request_id,
        served_at,
        endpoint,
        user_id,
        track_id,
        arm,
        policy,
        model_version,
        decision_date,
        p_play,
        should_cache,
        answer_source
    from judged

)

select * from final
