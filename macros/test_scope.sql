{#-
    Data tests scoped to what a night wrote.

    dbt wraps the model of every generic data test in get_where_subquery (which applies a
    test's `where` config). This project's version adds one more filter when the nightly job
    asks for it (environment variable SKIPCACHE_TEST_SCOPE=night, scoring.ingest.build): a test
    of an incremental model that stamps its rows with loaded_at sees only the rows this build
    wrote (loaded_at >= run_loaded_at(): the SQL models stamp the run's start, the Python
    landings the moment they land a file, which is later). A view that passes its incremental
    parent's loaded_at through, one row per parent row, is scoped the same way when it says so
    (meta night_test_scope: loaded_at; stg_pozytywka__sessions, whose tests scanned all 47 M
    events of ten times the v2 preset, 8 s a night, for the few thousand of a daily drop).
    Everything else is tested whole: tables rebuilt each run, other views, sources, models
    without loaded_at, and every test of `skipcache build`, of `dbt build` by hand and of a
    night run with --all-tests.

    Why this loses nothing on a night: an incremental model replaces whole partitions (its
    unique_key: a date or a decision night), so the rows of a changed partition are all new.
    Row tests (not_null, accepted_values, relationships from the new rows) are exact. Grain tests
    are exact when the key holds the partition column or determines it (listen_id determines
    listen_date): a duplicate can only sit inside one partition. What a scoped night cannot see,
    the full pass sees: an old row made an orphan by a rebuilt parent, or an old row of a scoped
    view whose joined columns changed.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set scope = night_test_scope(relation) -%}
    {%- if scope -%}
        {%- set where = '(' ~ where ~ ') and ' ~ scope if where else scope -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{% macro night_test_scope(relation) -%}
    {#- The filter of a night-scoped test of `relation`, or '' (see above). -#}
    {%- if not execute or env_var('SKIPCACHE_TEST_SCOPE', 'all') != 'night' -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set attached = model.get('attached_node') -%}
    {%- set node = graph.nodes.get(attached) if attached else none -%}
    {%- if node is none -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set scoped_view = node.config.materialized == 'view'
        and node.config.meta.get('night_test_scope') == 'loaded_at' -%}
    {%- if node.config.materialized != 'incremental' and not scoped_view -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- if not stamps_loaded_at(relation) -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- do return('loaded_at >= ' ~ run_loaded_at()) -%}
{%- endmacro %}
