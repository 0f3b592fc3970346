-- title: Trips per person per day
-- estimator: mean
-- unit: trips/person/day
-- needs: persons, households, trips
-- y = the person's trips on the travel day, x = 1; persons without trips count with y = 0
-- (DOMAIN.md §2.1). By purpose and distance band: the person's trips of that kind.
SELECT person_id, purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM trips
