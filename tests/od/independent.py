#!/usr/bin/env python3
"""An independent check of mobility's origin–destination indicators (issue 11), from the
canonical survey CSV files alone (the csv module; no project code, no SQL).

    python3 tests/od/independent.py FIXTURE_DIR OUT_DIR

Reads FIXTURE_DIR/households.csv, persons.csv and trips.csv (docs/survey-mapping.md,
data/mappings/canonical.toml) and writes OUT_DIR/<id>.csv for od_trips, od_trips_by_mode,
od_trips_by_period, trips_produced and trips_attracted with the columns breakdown,
breakdown_value, the indicator's keys, estimate, se, n: one row per cell where at least one
person of the domain has y ≠ 0. Prints `total_trips <Σ w·trips>` (all persons, all trips) and
one line `cells <id> <count>` per indicator.

Every cell is a total Ŷ = Σ wᵢyᵢ over persons (docs/methods.md, DOMAIN.md §2.1), with the
Taylor-linearised variance of persons sampled with replacement within strata, written out
person by person (not from per-stratum sums):
    zᵢ = wᵢyᵢ (0 for a person outside the cell or the domain, and for a person without trips),
    V = Σ_h n_h/(n_h − 1) Σ_{i∈h} (zᵢ − z̄_h)², SE = √V; a stratum of one person adds nothing.
n is the persons of the domain, as mobility's `total` counts them: every person for `all`
and the trip-level breakdowns (purpose, distance_band), the persons with the value for the
person-level ones (home_zone, age_band, gender, employment, day_type).

y of a person and cell is the person's trips in the cell: from origin zone o to destination
zone d (od_trips), also by mode or by departure period, from o (trips_produced) or to d
(trips_attracted). A NULL zone id is the zone `outside`. Periods by the local departure hour:
morning_peak 06–08, afternoon_peak 15–17, other otherwise and when the time is missing.
Trip-level domains take the person's trips of that purpose or distance band (a trip without a
purpose or a distance is in none of them).
"""
import csv
import datetime
import math
import os
import sys

fixture, out_dir = sys.argv[1], sys.argv[2]
os.makedirs(out_dir, exist_ok=True)


def rows(name):
    with open(os.path.join(fixture, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def val(s):
    """A CSV field, NULL (None) when empty (the canonical mapping's missing value)."""
    s = (s or "").strip()
    return s if s else None


home_zone_of = {val(h["household_id"]): val(h["home_zone_id"]) for h in rows("households.csv")}


def age_band(age):
    if age is None:
        return None
    a = int(age)
    if a < 18:
        return "13-17"
    if a < 30:
        return "18-29"
    if a < 45:
        return "30-44"
    if a < 67:
        return "45-66"
    return "67+"


def day_type(date):
    if date is None:
        return None
    # Monday = 0 … Saturday = 5, Sunday = 6.
    return "weekend" if datetime.date.fromisoformat(date).weekday() >= 5 else "weekday"


persons = []  # (person_id, weight, stratum, {person-level breakdown: value or None})
for p in rows("persons.csv"):
    persons.append((
        val(p["person_id"]),
        float(p["weight"]),
        val(p["stratum"]) or "",
        {
            "home_zone": home_zone_of.get(val(p["household_id"])),
            "age_band": age_band(val(p["age"])),
            "gender": None if val(p["gender"]) is None else val(p["gender"]).lower(),
            "employment": None if val(p["employment"]) is None else val(p["employment"]).lower(),
            "day_type": day_type(val(p["travel_date"])),
        },
    ))
weight = {pid: w for pid, w, _, _ in persons}
PERSON_BREAKDOWNS = ["home_zone", "age_band", "gender", "employment", "day_type"]

BANDS = [(1.0, "0-1 km"), (2.5, "1-2.5 km"), (5.0, "2.5-5 km"), (10.0, "5-10 km"),
         (25.0, "10-25 km"), (50.0, "25-50 km"), (math.inf, "50+ km")]


def distance_band(km):
    if km is None:
        return None
    v = float(km)
    for hi, label in BANDS:
        if v < hi:
            return label


def period(depart_at):
    if depart_at is None:
        return "other"
    hour = datetime.datetime.strptime(depart_at, "%Y-%m-%d %H:%M:%S").hour
    if 6 <= hour <= 8:
        return "morning_peak"
    if 15 <= hour <= 17:
        return "afternoon_peak"
    return "other"


trips = []
for t in rows("trips.csv"):
    pid = val(t["person_id"])
    if pid not in weight:
        sys.exit(f"independent.py: trip {t['trip_id']} of unknown person {pid}")
    trips.append({
        "person": pid,
        "origin": val(t["origin_zone_id"]) or "outside",
        "dest": val(t["dest_zone_id"]) or "outside",
        "mode": val(t["mode"]),
        "period": period(val(t["depart_at"])),
        "purpose": val(t["purpose"]),
        "distance_band": distance_band(val(t["distance_km"])),
    })

INDICATORS = {
    "od_trips": (["origin_zone_id", "dest_zone_id"], lambda t: (t["origin"], t["dest"])),
    "od_trips_by_mode": (["mode", "origin_zone_id", "dest_zone_id"],
                         lambda t: (t["mode"], t["origin"], t["dest"])),
    "od_trips_by_period": (["period", "origin_zone_id", "dest_zone_id"],
                           lambda t: (t["period"], t["origin"], t["dest"])),
    "trips_produced": (["zone_id"], lambda t: (t["origin"],)),
    "trips_attracted": (["zone_id"], lambda t: (t["dest"],)),
}

# Person-level domains: the persons of each (breakdown, value).
person_domains = {("all", ""): {pid for pid, _, _, _ in persons}}
for b in PERSON_BREAKDOWNS:
    for pid, _, _, dom in persons:
        if dom[b] is not None:
            person_domains.setdefault((b, dom[b]), set()).add(pid)
everyone = person_domains[("all", "")]

# The persons of each stratum, in file order.
strata = {}
for pid, _, h, _ in persons:
    strata.setdefault(h, []).append(pid)


def total_and_se(y):
    """Σ w y and its linearised SE, y a dict person → the person's y (absent: 0)."""
    est = sum(weight[pid] * v for pid, v in y.items())
    var = 0.0
    for members in strata.values():
        nh = len(members)
        if nh < 2:
            continue
        z = [weight[pid] * y.get(pid, 0.0) for pid in members]
        zbar = sum(z) / nh
        var += nh / (nh - 1) * sum((zi - zbar) ** 2 for zi in z)
    return est, math.sqrt(var)


cell_counts = {}
for ind, (keys, key_of) in INDICATORS.items():
    # (breakdown, value, key) → {person: y}
    cells = {}
    for t in trips:
        k = key_of(t)
        p = t["person"]
        for (b, v), members in person_domains.items():
            if p in members:
                y = cells.setdefault((b, v, k), {})
                y[p] = y.get(p, 0.0) + 1.0
        for b in ["purpose", "distance_band"]:
            if t[b] is not None:
                y = cells.setdefault((b, t[b], k), {})
                y[p] = y.get(p, 0.0) + 1.0
    out_rows = []
    for (b, v, k), y in cells.items():
        if not any(yi != 0 for yi in y.values()):
            continue
        est, se = total_and_se(y)
        n = len(everyone) if b in ("all", "purpose", "distance_band") else len(person_domains[(b, v)])
        out_rows.append([b, v, *k, repr(est), repr(se), n])
    order = ["all"] + PERSON_BREAKDOWNS + ["purpose", "distance_band"]
    out_rows.sort(key=lambda r: (order.index(r[0]), r[1], r[2:2 + len(keys)]))
    with open(os.path.join(out_dir, f"{ind}.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["breakdown", "breakdown_value", *keys, "estimate", "se", "n"])
        w.writerows(out_rows)
    cell_counts[ind] = len(out_rows)

total_trips = sum(weight[t["person"]] for t in trips)
print(f"total_trips {total_trips!r}")
for ind, c in cell_counts.items():
    print(f"cells {ind} {c}")
