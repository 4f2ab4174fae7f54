{#- Grain test: no two rows share the same values of `columns`. -#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as rows_with_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}

{#- The not-null constraints of an enforced contract, as a data test where the engine cannot
    enforce them (Spark's Parquet tables): one scan for all `columns`. On DuckDB the constraint
    is checked as rows are written, so the test selects nothing and costs nothing. -#}
{% test not_null_unless_enforced(model, columns) %}

{%- if target.type == 'duckdb' %}
select 1 as unenforced_null where 1 = 0
{%- else %}
select *
from {{ model }}
where {% for c in columns %}{{ c }} is null{{ " or " if not loop.last }}{% endfor %}
{%- endif %}

{% endtest %}
