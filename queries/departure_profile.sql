-- title: Trips by hour of departure
-- estimator: share
-- unit: share of trips
-- needs: persons, households, trips
-- y = the person's trips starting in the hour (local time), x = all the person's trips.
SELECT person_id, lpad(CAST(date_part('hour', depart_at) AS VARCHAR), 2, '0') AS hour, purpose, 1 AS y
FROM trips
WHERE depart_at IS NOT NULL
