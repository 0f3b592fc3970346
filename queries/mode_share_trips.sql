-- title: Mode share of trips
-- estimator: share
-- unit: share of trips
-- needs: persons, households, trips
-- y = the person's trips by the mode, x = all the person's trips in the domain (DOMAIN.md
-- §2.1). Every mode is reported in every domain, 0 where nobody used it.
SELECT person_id, mode, purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM trips
WHERE mode IS NOT NULL
