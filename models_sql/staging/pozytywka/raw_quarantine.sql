{#- One row per raw line that did not make it into a staging model, with the reason. -#}

{%- set entities = ['sessions', 'tracks', 'users', 'artists', 'track_storage'] -%}

with

{% for entity in entities %}
    {{ entity }}_rejects as (

        select
            '{{ entity }}' as entity,
            source_file,
            line_number,
            raw_line,
            quarantine_reason as reason
        from {{ ref('base_pozytywka__' ~ entity ~ '_parsed') }}
        where quarantine_reason is not null

    ),

{% endfor %}
unioned as (

    {% for entity in entities %}
        select * from {{ entity }}_rejects
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
