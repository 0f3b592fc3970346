#!/usr/bin/env python3
"""An independent check of calibrated survey weights and their standard errors (no project code).

    python independent.py --persons persons.csv --margins margins.csv --method raking|linear \
        [--bounds LO,HI] --out result.json
    python independent.py --self-test

persons.csv: person_id,weight,age,gender,home_zone_id,stratum,trips (weight = design weight d_i).
margins.csv: variable,category,total with variable in {age_band, gender, home_zone_id}; an age
band is `A-B` (inclusive years) or `A+`. Every person must fall in exactly one category of each
margin variable, and every category must hold a person; otherwise the script exits with status 1.

Sources:
- Deville & Särndal (1992), Calibration estimators in survey sampling, JASA 87:376-382:
  w_i = d_i F(x_i'λ) with Σ w_i x_i = T; F(u) = 1 + u is linear (GREG), F(u) = exp(u) raking;
  variance of a calibrated estimator from the residuals e_i = z_i - x_i'β (their §3).
- Deville, Särndal & Sautory (1993), Generalized raking procedures, JASA 88:1013-1020: raking
  is the fixed point of iterative proportional fitting (Deming & Stephan 1940); truncated linear.
- R survey (Lumley 2010, Complex Surveys §7.3): calibrate()/grake() (Newton on λ, a unit whose
  g is at a bound drops out of the Jacobian) and svytotal/svymean of a calibrated design.
- Särndal, Swensson & Wretman (1992), Model Assisted Survey Sampling §6.6 (g-weighted residuals);
  stratified with-replacement PSU variance: Wolter (2007), Introduction to Variance Estimation.
- samplics (pinned in tests/requirements.txt): SampleWeight.rake and SampleWeight.calibrate are
  run as a cross-check; the weights written are this script's own (IPF / numpy Newton).
"""
import argparse, json, math, os, subprocess, sys, tempfile, warnings

warnings.filterwarnings("ignore")
import numpy as np
import pandas as pd
from samplics.weighting import SampleWeight

TOL = 1e-12  # relative margin error at which IPF / Newton stop


def fail(msg):
    sys.exit(f"independent.py: {msg}")


def band(label):
    """'13-17' -> (13, 17), '67+' -> (67, inf): inclusive years."""
    if label.endswith("+"):
        return float(label[:-1]), math.inf
    lo, hi = label.split("-")
    return float(lo), float(hi)


def load(persons_csv, margins_csv):
    p = pd.read_csv(persons_csv, dtype=str, keep_default_na=False)  # '' stays '' (stratum '')
    m = pd.read_csv(margins_csv, dtype=str, keep_default_na=False)
    if p["person_id"].duplicated().any():
        fail("duplicate person_id")
    d = p["weight"].astype(float).to_numpy()
    if not (d > 0).all():
        fail("a design weight is not > 0")
    age = pd.to_numeric(p["age"].replace("", np.nan)).to_numpy(float)
    variables = list(dict.fromkeys(m["variable"]))  # order of appearance; the first keeps all
    cats, totals, of = {}, {}, {}
    for v in variables:
        mv = m[m["variable"] == v]
        cats[v], totals[v] = list(mv["category"]), mv["total"].astype(float).to_numpy()
        if len(set(cats[v])) != len(cats[v]) or not (totals[v] > 0).all():
            fail(f"{v}: duplicate category or a total that is not > 0")
        if v == "age_band":
            hit = np.array([[lo <= a <= hi for lo, hi in map(band, cats[v])] for a in age])
            if (hit.sum(axis=1) > 1).any():
                fail("overlapping age bands")
            codes = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)  # NaN age: no band
        elif v in ("gender", "home_zone_id"):
            index = {c: k for k, c in enumerate(cats[v])}
            codes = np.array([index.get(x, -1) for x in p[v]])
        else:
            fail(f"unknown margin variable {v}")
        if (codes < 0).any():
            i = int(np.argmax(codes < 0))
            fail(f"person {p['person_id'][i]} is in no category of {v}")
        if len(set(codes)) < len(cats[v]):
            fail(f"{v}: a category holds no person")
        of[v] = codes
    return p, d, variables, cats, totals, of


def design(variables, cats, totals, of):
    """Full indicator matrix A (every category of every variable) and its totals; the full-rank
    X keeps every category of the first variable and all but the first of each other."""
    A = np.hstack([(of[v][:, None] == np.arange(len(cats[v]))).astype(float) for v in variables])
    T = np.concatenate([totals[v] for v in variables])
    first = np.cumsum([0] + [len(cats[v]) for v in variables])[:-1]
    keep = [j for j in range(A.shape[1]) if j not in set(first[1:])]
    return A, T, A[:, keep], T[keep]


def ipf(d, variables, totals, of):
    """Raking by IPF: per variable v and category c, w_i <- w_i T_c / Σ_{j∈c} w_j, repeated until
    max |Σ_c w - T_c| / T_c < TOL (Deming & Stephan 1940; DSS 1993 §2)."""
    w = d.copy()
    for _ in range(100000):
        for v in variables:
            w *= (totals[v] / np.bincount(of[v], weights=w))[of[v]]
        err = max(np.max(np.abs(np.bincount(of[v], weights=w) - totals[v]) / totals[v])
                  for v in variables)
        if err < TOL:
            return w
    fail("IPF did not converge; margin sums per variable: "
         + ", ".join(f"{v} {totals[v].sum():.6g}" for v in variables))


def linear(d, X, T, bounds=None):
    """Linear calibration w_i = d_i g_i, g_i = 1 + x_i'λ. Unbounded: one Newton step from λ = 0 is
    the closed form λ = (Σ d x x')⁻¹ (T - Σ d x) (DS 1992 eq. 2.4). With bounds, as R grake:
    g_i = clip(1 + x_i'λ, LO, HI), λ += (Σ d_i 1[LO<1+x_i'λ<HI] x_i x_i')⁺ (T - Σ w x)."""
    lo, hi = bounds or (-math.inf, math.inf)
    lam = np.zeros(X.shape[1])
    for _ in range(200):
        u = 1 + X @ lam
        w = d * np.clip(u, lo, hi)
        miss = T - X.T @ w
        if np.max(np.abs(miss) / T) < TOL:
            return w
        inside = (u > lo) & (u < hi)  # clipped units leave the Jacobian
        lam += np.linalg.pinv(X.T @ (X * (d * inside)[:, None])) @ miss
    fail(f"linear calibration with bounds {bounds} did not converge (infeasible bounds?)")


def agree(name, ours, theirs, tol=1e-8):
    rel = np.max(np.abs(ours - theirs) / np.abs(ours))
    if not rel < tol:
        fail(f"samplics {name} disagrees with this script's weights: max relative diff {rel:.3g}")


def se(w, z, strata, A=None):
    """SE of Σ w z. With A: z is replaced by the calibration residual e = z - Aβ,
    β = (Σ w a a')⁺ Σ w a z (DS 1992 §3; survey's calibrated svyrecvar). Persons are PSUs drawn
    with replacement in strata h: V = Σ_h n_h/(n_h-1) Σ_{i∈h} (u_i - ū_h)², u = w e; n_h = 1
    contributes 0."""
    if A is not None:
        r = np.sqrt(w)
        z = z - A @ np.linalg.lstsq(A * r[:, None], z * r, rcond=None)[0]
    u, V = w * z, 0.0
    for h in np.unique(strata):
        uh = u[strata == h]
        if uh.size > 1:
            V += uh.size / (uh.size - 1) * np.sum((uh - uh.mean()) ** 2)
    return math.sqrt(V)


def run(a):
    p, d, variables, cats, totals, of = load(a.persons, a.margins)
    A, TA, X, TX = design(variables, cats, totals, of)
    if a.method == "raking":
        if a.bounds:
            fail("--bounds is only implemented for --method linear")
        w = ipf(d, variables, totals, of)
        sw = SampleWeight().rake(  # samplics: repeated poststratify() over the margins
            samp_weight=d, margins={v: np.array(cats[v])[of[v]] for v in variables},
            control={v: dict(zip(cats[v], totals[v])) for v in variables},
            tol=1e-14, ctrl_tol=1e-13, max_iter=2000)
        agree("rake", w, sw)
    else:
        bounds = tuple(map(float, a.bounds.split(","))) if a.bounds else None
        if bounds and not bounds[0] < 1 < bounds[1]:
            fail("--bounds LO,HI needs LO < 1 < HI")
        w = linear(d, X, TX, bounds)
        if bounds is None:  # samplics: d (1 + (T - Σ d x)'(Σ d x x')⁻¹ x), full-rank x
            agree("calibrate", w, SampleWeight().calibrate(
                samp_weight=d, aux_vars=X, control=dict(enumerate(TX))))
    strata = p["stratum"].to_numpy()
    achieved = A.T @ w
    out = {"weights": dict(zip(p["person_id"], w.tolist())),
           "margins": [{"variable": v, "category": c, "total": float(t), "achieved": float(s)}
                       for (v, c), t, s in zip([(v, c) for v in variables for c in cats[v]],
                                               TA, achieved)],
           "max_error": float(np.max(np.abs(achieved - TA) / TA))}
    trips = p["trips"].astype(float).to_numpy()
    # Total Ŷ = Σ w y: z = y. Mean R = Σ w y / Σ w: z = (y - R) / Σ w (ratio linearisation).
    R, W = float(w @ trips / w.sum()), float(w.sum())
    for key, est, z in (("trips_total", float(w @ trips), trips),
                        ("trips_per_person", R, (trips - R) / W)):
        out[key] = {"estimate": est, "se": se(w, z, strata, A), "se_plain": se(w, z, strata)}
    out["population"] = []  # y = 1[person in category]
    for v in ("gender", "age_band"):
        if v in of:
            groups = [(c, of[v] == k) for k, c in enumerate(cats[v])]
        elif v == "gender":
            groups = [(c, p["gender"].to_numpy() == c) for c in sorted(set(p["gender"]))]
        else:
            continue
        for c, y in groups:
            y = y.astype(float)
            out["population"].append({"breakdown": v, "value": c, "estimate": float(w @ y),
                                      "se": se(w, y, strata, A), "se_plain": se(w, y, strata)})
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


def self_test():
    """Toy data in /tmp: margins met, calibrated margins' SE ~0, one-variable raking (and linear)
    = post-stratification d·T_c/Σ_c d, bounded g within [LO, HI]."""
    rng, n = np.random.default_rng(7), 80
    ages = rng.integers(13, 91, n)
    bands = ["13-17", "18-29", "30-44", "45-66", "67+"]
    p = pd.DataFrame({"person_id": np.arange(1, n + 1), "weight": rng.uniform(20, 80, n).round(3),
                      "age": ages, "gender": rng.choice(["female", "male"], n),
                      "home_zone_id": rng.choice(["101", "102", "103"], n),
                      "stratum": rng.choice(["a", "b", ""], n), "trips": rng.poisson(3, n)})
    p.loc[0, "stratum"] = "lonely"  # a stratum of one person: contributes 0
    band_of = pd.cut(ages, [12, 17, 29, 44, 66, 200], labels=bands).astype(str)
    N, rows = 1.02 * p["weight"].sum(), []
    for v, cat in (("age_band", band_of), ("gender", p["gender"]), ("home_zone_id", p["home_zone_id"])):
        share = p.groupby(np.asarray(cat))["weight"].sum() * rng.uniform(0.85, 1.15, len(set(cat)))
        rows += [(v, c, N * s / share.sum()) for c, s in share.items()]
    tmp = tempfile.mkdtemp(prefix="calibration-selftest-", dir="/tmp")
    pc, mc = os.path.join(tmp, "persons.csv"), os.path.join(tmp, "margins.csv")
    p.to_csv(pc, index=False)
    margins = pd.DataFrame(rows, columns=["variable", "category", "total"])

    def call(method, m, *extra):
        m.to_csv(mc, index=False)
        o = os.path.join(tmp, f"{method}.json")
        subprocess.run([sys.executable, __file__, "--persons", pc, "--margins", mc,
                        "--method", method, *extra, "--out", o], check=True)
        return json.load(open(o))

    def check(r, what):
        assert r["max_error"] < 1e-10, (what, r["max_error"])
        for q in r["population"]:
            assert q["se"] < 1e-6 * q["estimate"] and q["se_plain"] > 0, (what, q)
        assert r["trips_total"]["se"] > 0 and r["trips_per_person"]["se"] > 0, what
        print(f"self-test {what}: max_error {r['max_error']:.2g}, trips/person "
              f"{r['trips_per_person']['estimate']:.4f} ± {r['trips_per_person']['se']:.4f}")

    check(call("raking", margins), "raking")
    lin = call("linear", margins)
    check(lin, "linear")
    g = np.array([lin["weights"][str(i)] for i in p["person_id"]]) / p["weight"]
    lo, hi = 1 - 0.7 * (1 - g.min()), 1 + 0.7 * (g.max() - 1)
    bd = call("linear", margins, "--bounds", f"{lo},{hi}")
    check(bd, "linear bounded")
    gb = np.array([bd["weights"][str(i)] for i in p["person_id"]]) / p["weight"]
    assert gb.min() >= lo - 1e-12 and gb.max() <= hi + 1e-12 and np.isclose(gb, hi).any()
    one = margins[margins["variable"] == "gender"]
    T = dict(zip(one["category"], one["total"]))
    post = p["weight"] * p["gender"].map(T) / p.groupby("gender")["weight"].transform("sum")
    for method in ("raking", "linear"):
        r = call(method, one)
        w = np.array([r["weights"][str(i)] for i in p["person_id"]])
        assert np.max(np.abs(w - post) / post) < 1e-12, method
    print(f"self-test passed (files in {tmp})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("--persons", "--margins", "--out"):
        ap.add_argument(name)
    ap.add_argument("--method", choices=["raking", "linear"])
    ap.add_argument("--bounds", help="LO,HI bounds on g = w/d (linear only)")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
    elif not (args.persons and args.margins and args.method and args.out):
        ap.error("--persons, --margins, --method and --out are required")
    else:
        run(args)
