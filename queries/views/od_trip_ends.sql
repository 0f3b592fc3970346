-- Trips with the zones of their ends (trip_zones) and the period of the day they start in:
-- `morning_peak` 06:00–08:59, `afternoon_peak` 15:00–17:59, `other` otherwise or when the
-- departure time is unknown (the peak hours of Ruter's and Statens vegvesen's counts).
CREATE OR REPLACE VIEW od_trip_ends AS
SELECT t.trip_id, t.person_id, t.mode, t.purpose, t.distance_km,
  z.origin_zone_id, z.dest_zone_id,
  CASE
    WHEN date_part('hour', t.depart_at) >= 6 AND date_part('hour', t.depart_at) < 9 THEN 'morning_peak'
    WHEN date_part('hour', t.depart_at) >= 15 AND date_part('hour', t.depart_at) < 18 THEN 'afternoon_peak'
    ELSE 'other'
  END AS period
FROM trips t
JOIN trip_zones z ON z.trip_id = t.trip_id
