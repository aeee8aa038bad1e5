import nbformat
from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell

md, code = new_markdown_cell, new_code_cell
cells = [
md("""# Retention and survival
How long customers stay active, which groups churn faster, what drives churn, and how many lapsed customers a win-back touch brings back.

**How churn is measured.** An event log never records churn; it is inferred from silence. A customer has *churned* at their last activity before the first gap of inactivity longer than `churn_after` days (our own outbound touches such as win-back e-mails are not activity). A customer who comes back after such a gap counts as churned at the start of the gap and as a *reactivation* (see the win-back section), not as a longer first lifetime. Customers still inside the `churn_after` window at the end of the data have not churned *yet*: they are **censored**, and they count as at risk only up to the last moment at which their churn could have been seen. Change the parameters below (or pass `-p NAME VALUE` to `journeylib run`)."""),
code("""data_dir: str = "sample"  # folder with events and customers files (.parquet or .csv); sample means the bundled simulated data
churn_after: int = 60  # days of inactivity that count as churn (a gap longer than this)
start_event: str = "purchase"  # event that starts each customer's clock; empty means their first activity
observation_end: str = ""  # end of observation, e.g. 2025-06-30; empty means the last timestamp in the data
segment_column: str = "segment"  # customers column to split the retention curves by; empty means no split
covariates: list = ["segment", "acquisition_channel"]  # customers columns (or first_order_value) for the Cox model
strata: list = []  # Cox columns to stratify on instead of estimating a hazard ratio (remedy for a failed PH check)
loyalty_joined_column: str = "loyalty_joined_at"  # customers timestamp column of joining the loyalty programme; empty means skip
horizons: list = [30, 90, 180, 365]  # days at which retention is reported
winback_inactive_days: int = 75  # win-back: customers inactive this many days
winback_within_days: int = 30  # win-back: count a return within this many days after that""", metadata={"tags": ["parameters"]}),
code("""import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

import journeylib as jl
from journeylib import survival as sv
from journeylib.tables import styled

jl.setup_notebook()
data = jl.load_dataset(data_dir)
labels = sv.churn_labels(data.events, data.customers, churn_after=churn_after, start_event=start_event or None,
                         observation_end=observation_end or None)
end = labels.attrs["observation_end"]
labels = labels.merge(sv.first_order_value(data.events), on="customer_id", how="left")
group = segment_column or None"""),
md("## Who is in the analysis"),
code("""overview = pd.DataFrame([{
    "customers": len(labels),
    "churned": int(labels["churned"].sum()),
    "still active (censored)": int((~labels["churned"]).sum()),
    "came back after churning": int(labels["returned"].sum()),
    "observation end": end.strftime("%Y-%m-%d"),
    "churn observable until": (end - pd.Timedelta(days=churn_after)).strftime("%Y-%m-%d"),
}])
styled(overview, {"customers": "{:,}", "churned": "{:,}", "still active (censored)": "{:,}",
                  "came back after churning": "{:,}"},
       caption=f"Customers whose clock started ({start_event or 'first activity'}); churn = more than {churn_after} days inactive")"""),
md("""## Retention curves
The Kaplan-Meier curve is the share of customers still active a given number of days after their start, with censored customers handled correctly. Shaded bands are 95% confidence intervals; where they do not overlap, the groups really differ."""),
code("""km = sv.kaplan_meier(labels, by=group, horizons=horizons)
fig, ax = plt.subplots(figsize=(9, 5))
km.plot(ax=ax)
plt.show()"""),
code("""summary = km.summary.rename(columns={"median_days": "median lifetime (days)", "median_ci_low": "median CI low",
                                      "median_ci_high": "median CI high"})
fmt = {c: "{:.0%}" for c in summary.columns if c.startswith("retention_")}
fmt.update({"median lifetime (days)": "{:,.0f}", "median CI low": "{:,.0f}", "median CI high": "{:,.0f}",
            "customers": "{:,}", "churned": "{:,}"})
styled(summary, fmt, caption="Median lifetime (inf = not reached: more than half still active) and share still active at each horizon")"""),
code("""fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
km.plot_retention(ax=axes[0])
km.plot_cumulative_hazard(ax=axes[1])
plt.tight_layout()
plt.show()"""),
md("The cumulative hazard on the right is the expected number of churns per customer by each age; a straight line means a constant churn rate, a flattening line means customers who survive the first months become more loyal."),
md("## Are the groups different? (log-rank test)"),
code("""if group and labels[group].nunique() > 1:
    lr = sv.logrank(labels, group)
    display(Markdown(lr.reading))
    display(styled(lr.summary, {"customers": "{:,.0f}", "observed": "{:,.0f}", "expected": "{:,.1f}",
                                "observed_over_expected": "{:.2f}"},
                   caption="Churns observed vs expected if all groups churned alike"))
else:
    display(Markdown("No grouping column (or a single group): no log-rank test."))"""),
md("""## What drives churn? (Cox model)
Each bar is a hazard ratio: how much faster (above 1) or slower (below 1) a group churns than the reference group at any given age, holding the other covariates fixed. The proportional-hazards check below says whether a single ratio per covariate is a fair summary."""),
code("""cox_cols = [c for c in covariates if c in labels.columns]
numeric = [c for c in cox_cols if pd.api.types.is_numeric_dtype(labels[c])]
cox_data = labels.dropna(subset=numeric)  # e.g. no first_order_value for customers who never purchased
if len(cox_data) < len(labels):
    display(Markdown(f"{len(labels) - len(cox_data):,} customers without a value of {numeric} are left out of the Cox model."))
cox = sv.cox(cox_data, cox_cols, strata=strata)
fig, ax = plt.subplots(figsize=(8, 0.5 * len(cox.summary) + 1.5))
cox.plot(ax=ax)
plt.show()
display(Markdown(f"Concordance {cox.concordance:.3f} (0.5 = no better than chance, 1 = perfect ordering). " + cox.ph_reading))
styled(cox.summary, {"coef": "{:.3f}", "se": "{:.3f}", "hazard_ratio": "{:.2f}", "ci_low": "{:.2f}",
                     "ci_high": "{:.2f}", "pvalue": "{:.3g}"}, caption="Cox hazard ratios with 95% intervals")"""),
md("""## Loyalty membership: a time-varying effect
Customers join the loyalty programme part-way through their life. Treating *ever a member* as a fixed trait credits the programme with the time before joining, during which members could not churn (had they churned, they would never have joined): **immortal-time bias**, which makes the programme look far better than it is. The start/stop model counts each customer as a non-member until the day they join and as a member after."""),
code("""if loyalty_joined_column and data.customers is not None and loyalty_joined_column in labels.columns:
    base_cov = [c for c in cox_cols if c not in ("loyalty_member",)]
    cox_data = cox_data.assign(ever_member=cox_data[loyalty_joined_column].notna())
    naive = sv.cox(cox_data, base_cov + ["ever_member"], strata=strata, record_health=False)
    tv = sv.cox(cox_data, base_cov, strata=strata, time_varying={"member": loyalty_joined_column})
    rows = [("naive: ever a member (wrong)", *naive.summary.set_index("term").loc["ever_member", ["hazard_ratio", "ci_low", "ci_high"]]),
            ("start/stop: member from joining on", *tv.summary.set_index("term").loc["member", ["hazard_ratio", "ci_low", "ci_high"]])]
    loyalty = pd.DataFrame(rows, columns=["model", "hazard_ratio", "ci_low", "ci_high"])
    display(styled(loyalty, {"hazard_ratio": "{:.2f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}"},
                   caption="Loyalty membership: hazard ratio of churn (below 1 = members churn less)"))
    hr = tv.hazard_ratio("member")
    display(Markdown(f"Once they join, members churn about **{abs(1 - hr):.0%} {'less' if hr < 1 else 'more'}** than comparable "
                     f"non-members (hazard ratio {hr:.2f}). The naive comparison would have claimed "
                     f"{abs(1 - naive.hazard_ratio('ever_member')):.0%}."))
else:
    loyalty = None
    display(Markdown("No loyalty join column in the customers table: section skipped."))"""),
md(f"""## Win-back and reactivation
Of customers who had been inactive for the chosen number of days, the share who came back (any activity) within the following window, by the channel of the win-back touch sent in between ("none" = no touch). Windows not fully observed by the end of the data are left out."""),
code("""wb = sv.winback_rates(data.events, data.customers, inactive_days=winback_inactive_days,
                      within_days=winback_within_days, start_event=start_event or None,
                      observation_end=observation_end or None)
fig, ax = plt.subplots(figsize=(8, 0.5 * len(wb.summary) + 1.5))
wb.plot(ax=ax)
plt.show()
styled(wb.summary, {"n": "{:,}", "returned": "{:,}", "rate": "{:.1%}", "ci_low": "{:.1%}", "ci_high": "{:.1%}"},
       caption=f"Return within {winback_within_days} days after {winback_inactive_days} days of inactivity ({wb.n_censored:,} incomplete windows left out)")"""),
code("""if group and data.customers is not None and group in data.customers.columns:
    wb_seg = sv.winback_rates(data.events, data.customers, inactive_days=winback_inactive_days,
                              within_days=winback_within_days, start_event=start_event or None,
                              observation_end=observation_end or None, by=("touch_channel", group))
    display(styled(wb_seg.summary, {"n": "{:,}", "returned": "{:,}", "rate": "{:.1%}", "ci_low": "{:.1%}", "ci_high": "{:.1%}"},
                   caption=f"Win-back returns by touch channel and {group}"))"""),
md("## Check against the planted truth (simulated data only)"),
code("""truth = data.ground_truth
if truth:
    rows = []
    seg_hr = truth["segments"]["churn_hazard_ratio"]
    terms = cox.summary.set_index("term")
    for seg, hr in seg_hr.items():
        if f"segment: {seg}" in terms.index and hr != 1.0:
            rows.append((f"churn hazard ratio, {seg} vs reference", hr, *terms.loc[f"segment: {seg}", ["hazard_ratio", "ci_low", "ci_high"]]))
    if loyalty is not None:
        rows.append(("loyalty hazard ratio (start/stop)", truth["churn"]["loyalty_hazard_ratio"], *loyalty.iloc[1, 1:]))
        rows.append(("loyalty hazard ratio (naive)", truth["churn"]["loyalty_hazard_ratio"], *loyalty.iloc[0, 1:]))
    for ch, p in truth["winback"]["return_prob"].items():
        s = wb.summary.set_index("touch_channel")
        if ch in s.index:
            rows.append((f"win-back return rate, {ch}", p, *s.loc[ch, ["rate", "ci_low", "ci_high"]]))
    check = pd.DataFrame(rows, columns=["quantity", "planted", "estimate", "ci_low", "ci_high"])
    check["planted inside CI"] = (check["ci_low"] <= check["planted"]) & (check["planted"] <= check["ci_high"])
    display(styled(check, {"planted": "{:.2f}", "estimate": "{:.2f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}"},
                   caption="Simulator's planted values vs this notebook's estimates (95% intervals)"))
    display(Markdown("Each interval is a 95% interval, so about one planted value in twenty falls outside by chance; "
                     "the naive loyalty row is expected to miss (immortal-time bias). "
                     "Win-back rates match the planted ones only when the window covers the simulator's timing "
                     f"(touch at {truth['winback']['send_after_days_inactive']} days, returns within "
                     f"{truth['winback']['return_within_days']} days of it)."))
else:
    display(Markdown("No ground truth for this dataset (real data)."))"""),
md("## Plain-language reading"),
code("""lines = []
s = km.summary
for _, r in s.iterrows():
    med = "more than half are still active at the end of follow-up" if r["median_days"] == float("inf") else f"half have churned after about {r['median_days']:.0f} days"
    h = [c for c in s.columns if c.startswith("retention_")]
    ret = ", ".join(f"{r[c]:.0%} after {c[len('retention_'):-1]} days" for c in h if pd.notna(r[c]))
    lines.append(f"- **{r['group']}** ({int(r['customers']):,} customers): {med}; still active: {ret}.")
sig = [t for t in cox.summary.itertuples() if t.pvalue < 0.05]
drivers = "; ".join(f"{t.term} churns {'faster' if t.hazard_ratio > 1 else 'slower'} (x{t.hazard_ratio:.2f})" for t in sig) or "no covariate clearly changes the churn rate"
lines.append(f"- Drivers (Cox, p < 0.05): {drivers}." + (" With many terms, one in twenty clears this bar by chance; trust effects that are large and stable across runs." if len(cox.summary) > 3 else ""))
lines.append(f"- {'The hazard ratios hold across customer age.' if cox.ph_ok else 'Some effects change with customer age (see the check above); read their hazard ratios as averages.'}")
best = wb.summary.sort_values("rate", ascending=False).iloc[0]
lines.append(f"- Win-back: best return rate with **{best['touch_channel']}** ({best['rate']:.1%}, 95% CI {best['ci_low']:.1%} to {best['ci_high']:.1%}) among customers inactive {winback_inactive_days}+ days.")
display(Markdown("\\n".join(lines)))"""),
md("""**Caveats.** Churn here is a definition, not an observation: a longer `churn_after` finds fewer, later churns. Durations start at the first purchase (or first activity), so customers who never purchased are not in the curves. Hazard ratios are associations; the loyalty effect is causal only if nothing that drives both joining and churning is left out (the start/stop form removes immortal-time bias, not confounding)."""),
]
nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"}})
nbformat.validate(nb)
nbformat.write(nb, "/work/main/notebooks/02_retention_survival.ipynb")
print("ok")
