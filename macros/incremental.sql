{#-
    The incremental pattern of the listen, feature and outcome models. Every incremental model
    stamps the rows it (re)computes with loaded_at = the run's start; a model picks up what
    changed since its own last run by comparing loaded_at. The relations a macro reads are its
    arguments: the model names them with ref() or source(), so the lineage is in the model.
-#}

{% macro run_loaded_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{% macro last_loaded_at() -%}
    (select coalesce(max(loaded_at), cast('1900-01-01' as timestamp)) from {{ this }})
{%- endmacro %}

{% macro stamps_loaded_at(relation) -%}
    {#- Whether `relation` has the loaded_at column (at execution: a table built before its
        model stamped rows has none). -#}
    {{ return('loaded_at' in (adapter.get_columns_in_relation(relation) | map(attribute='name') | list)) }}
{%- endmacro %}

{% macro first_changed_listen_date(listens) -%}
    {#- The earliest listen_date among the rows of `listens` (fct_listens) changed since this
        model last ran: every date from it on is recomputed (late events included); null when
        nothing changed. -#}
    (
        select min(changed.listen_date)
        from {{ listens }} as changed
        where changed.loaded_at > {{ last_loaded_at() }}
    )
{%- endmacro %}

{% macro decided_nights(arms, listens) -%}
    {#- The nights with decisions that an outcome model computes, with the night's decided_at
        (`night_decided_at`, which the model stores on its rows), from `arms` (the decisions'
        user_arms): every night on a full build; on an incremental run the nights whose
        decisions were written since this model stored them (compared by decided_at, not by
        clock, so a re-run night is picked up) and the nights whose rows of `listens`
        (fct_listens) changed since. -#}
    select
        arms.decision_date,
        arms.night_decided_at
    from (
        select
            decision_date,
            max(decided_at) as night_decided_at
        from {{ arms }}
        group by decision_date
    ) as arms
    {%- if is_incremental() %}
        left join (
            select
                decision_date,
                max(night_decided_at) as night_decided_at
            from {{ this }}
            group by decision_date
        ) as stored
            on arms.decision_date = stored.decision_date
        where
            stored.night_decided_at is null
            or stored.night_decided_at <> arms.night_decided_at
            or arms.decision_date in (
                select changed.listen_date
                from {{ listens }} as changed
                where changed.loaded_at > {{ last_loaded_at() }}
            )
    {%- endif %}
{%- endmacro %}

{% macro file_already_in_this(alias) -%}
    {#- True when this model already holds the file of `alias`'s row with the same signature
        (source_file, file_signature): an incremental landing or parser skips such files. -#}
    exists (
        select 1
        from (select distinct source_file, file_signature from {{ this }}) as done
        where
            done.source_file = {{ alias }}.source_file
            and done.file_signature = {{ alias }}.file_signature
    )
{%- endmacro %}
