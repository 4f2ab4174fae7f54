{% macro count_where(condition) -%}
    {#- Rows where `condition` is true, as a bigint (portable: no count_if or filter clause). -#}
    cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}
