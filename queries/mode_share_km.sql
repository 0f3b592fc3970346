-- title: Mode share of person-kilometres
-- estimator: share
-- unit: share of person-km
-- needs: persons, households, trips
-- y = the person's kilometres by the mode, x = all the person's kilometres in the domain.
SELECT person_id, mode, purpose, distance_band(distance_km) AS distance_band, distance_km AS y
FROM trips
WHERE mode IS NOT NULL AND distance_km IS NOT NULL
