-- title: Mean trip length by mode
-- estimator: ratio
-- unit: km/trip
-- needs: persons, households, trips
-- y = the person's kilometres by the mode, x = the person's trips by the mode.
SELECT person_id, mode, purpose, distance_km AS y, 1 AS x
FROM trips
WHERE mode IS NOT NULL AND distance_km IS NOT NULL
