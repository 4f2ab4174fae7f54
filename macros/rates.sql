{#- Rates as portable SQL: smoothing toward a prior, and a finite logit. -#}

{% macro smoothed_rate(events, listens, prior, weight) -%}
    {#- A double on every engine: the prior is a double (Spark would make a literal weight times
        a decimal a decimal). -#}
    ({{ events }} + {{ weight }} * {{ prior }}) / ({{ listens }} + {{ weight }})
{%- endmacro %}

{% macro clamped_logit(rate) -%}
    {#- ln(p / (1 - p)) with p kept within [0.001, 0.999], so that a rate of 0 or 1 stays finite. -#}
    ln(
        greatest(least({{ rate }}, 0.999), 0.001)
        / (1 - greatest(least({{ rate }}, 0.999), 0.001))
    )
{%- endmacro %}
