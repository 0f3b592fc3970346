-- title: Trips by purpose
-- estimator: share
-- unit: share of trips
-- needs: persons, households, trips
-- y = the person's trips for the purpose, x = all the person's trips. The key is named
-- trip_purpose, because a column named purpose would be a breakdown.
SELECT person_id, purpose AS trip_purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM trips
WHERE purpose IS NOT NULL
