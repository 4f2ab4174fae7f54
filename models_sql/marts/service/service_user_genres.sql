{#- One row per night, user and genre that is the user's favourite or that the user listened to
    before the night: the user x genre part of a pair's features (favourite-genre matches and
    the user's history on the track's genres), summed by the cache service over a track's
    genres exactly as request_features sums them. -#}

with

listens as (

    select * from {{ ref('fct_listens') }}

),

favourite_genres as (

    select * from {{ ref('stg_pozytywka__user_favourite_genres') }}

),

user_genre_features as (

    select * from {{ ref('user_genre_features_daily') }}

),

nights as (

    {{ decision_nights('listens') }}

),

favourites as (

    select
        nights.decision_date,
        favourite_genres.user_id,
        favourite_genres.genre
    from nights
    cross join favourite_genres

),

history as (

    select
        user_genre_features.feature_date as decision_date,
        user_genre_features.user_id,
        user_genre_features.genre,
        user_genre_features.user_genre_listens_before,
        user_genre_features.user_genre_skips_before
    from user_genre_features
    inner join nights
        on user_genre_features.feature_date = nights.decision_date
    where user_genre_features.user_genre_listens_before > 0

),

final as (

    select
        coalesce(history.decision_date, favourites.decision_date) as decision_date,
        coalesce(history.user_id, favourites.user_id) as user_id,
        coalesce(history.genre, favourites.genre) as genre,
        coalesce(history.user_genre_listens_before, 0) as user_genre_listens_before,
        coalesce(history.user_genre_skips_before, 0) as user_genre_skips_before,
        favourites.genre is not null as is_favourite_genre
    from history
    full outer join favourites
        on
            history.decision_date = favourites.decision_date
            and history.user_id = favourites.user_id
            and history.genre = favourites.genre

)

select * from final
