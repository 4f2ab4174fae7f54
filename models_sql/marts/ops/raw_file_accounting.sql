{#- One row per raw file: non-blank lines read, rows staged, rows quarantined. -#}

{%- set staged = {
    'sessions': 'stg_pozytywka__sessions',
    'tracks': 'stg_pozytywka__tracks',
    'users': 'stg_pozytywka__users',
    'artists': 'stg_pozytywka__artists',
    'track_storage': 'stg_pozytywka__track_storage',
} -%}

with

raw_lines as (

    select * from {{ ref('base_pozytywka__landed_lines') }}

),

quarantine as (

    select * from {{ ref('raw_quarantine') }}

),

lines_read as (

    select
        entity,
        source_file,
        count(*) filter (where not is_blank) as lines_read
    from raw_lines
    group by entity, source_file

),

staged as (

    {% for entity, model in staged.items() %}
        select
            source_file,
            count(*) as rows_staged
        from {{ ref(model) }}
        group by source_file
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

quarantined as (

    select
        source_file,
        count(*) as rows_quarantined
    from quarantine
    group by source_file

),

final as (

    select
        lines_read.entity,
        lines_read.source_file,
        lines_read.lines_read,
        coalesce(staged.rows_staged, 0) as rows_staged,
        coalesce(quarantined.rows_quarantined, 0) as rows_quarantined
    from lines_read
    left join staged
        on lines_read.source_file = staged.source_file
    left join quarantined
        on lines_read.source_file = quarantined.source_file

)

select * from final
