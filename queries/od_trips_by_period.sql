-- title: Trips between zones per average day, by period of the day
-- estimator: total
-- cells: observed
-- unit: trips/day
-- needs: persons, households, trips
-- As od_trips, by the period the trip starts in (od_trip_ends: morning peak 06–09, afternoon peak 15–18, other).
-- Only pairs someone travels between are reported (cells: observed).
SELECT person_id, period, origin_zone_id, dest_zone_id, purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM od_trip_ends
