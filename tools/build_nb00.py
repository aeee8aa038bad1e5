import sys; sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from nbbuild import md, code, params, write
write("notebooks/00_journey_overview.ipynb", [
md("""# Journey overview
What is in the event log, and how far customers get through the journey stages.
Change the parameters below (or pass `-p NAME VALUE` to `journeylib run`) to point the report at your own data."""),
params('''data_dir: str = "sample"  # folder with events and customers files (.parquet or .csv); sample means the bundled simulated data
engine: str = "duckdb"  # where the engine half runs: duckdb, a DuckDB file path, spark, or a Spark master URL such as spark://host:7077
stages: list = ["awareness", "consideration", "cart", "purchase", "repeat", "advocacy"]  # stage names in journey order
conversion_window_days: int = 0  # days from the first stage allowed to finish the funnel; 0 means no limit
segment_column: str = "segment"  # column of customers to split the funnel by; empty means no split'''),
code('''import matplotlib.pyplot as plt
import journeylib as jl
from journeylib import overview, stages as st
from journeylib.tables import styled

jl.setup_notebook()
jl.connect(engine)  # DuckDB by default; Spark or a DuckDB file when asked
data = jl.load_dataset(data_dir, stages=stages)
window = conversion_window_days or None'''),
md("## The data"),
code('''styled(overview.data_summary(data.events))'''),
code('''fig, ax = plt.subplots(figsize=(9, 3.5))
overview.plot_monthly_activity(overview.monthly_activity(data.events), ax=ax)
plt.show()'''),
md("""Touchpoints per channel (events that carry a channel; outbound sends such as win-back emails are left out):"""),
code('''channels = overview.channel_summary(data.events)
styled(channels, {"touches": "{:,}", "customers": "{:,}", "share_of_touches": "{:.1%}"})'''),
md("""## Stage funnel
A *closed* funnel: a customer counts at a stage only after reaching every earlier stage in order.
Step conversion is the share of the previous stage's customers that reached this one; drop-off is the rest.
Customers whose conversion window is still open at the end of the data are counted as *not yet mature*, not as drop-outs."""),
code('''fun = st.funnel(data.events, stages, window=window)
fig, ax = plt.subplots(figsize=(9, 4))
fun.plot(ax=ax)
plt.show()'''),
code('''table = fun.summary[["stage", "customers", "step_conversion", "cumulative_conversion", "drop_off", "not_yet_mature",
                     "median_days_from_previous"]]
styled(table, {"customers": "{:,}", "step_conversion": "{:.1%}", "cumulative_conversion": "{:.1%}",
               "drop_off": "{:.1%}", "not_yet_mature": "{:,}", "median_days_from_previous": "{:.1f} days"})'''),
code('''worst = table.iloc[1:].sort_values("drop_off", ascending=False).iloc[0]
first, last = table.iloc[0], table.iloc[-1]
print(f"Of {first.customers:,} customers who entered at '{first.stage}', {last.customers:,} "
      f"({last.cumulative_conversion:.1%}) went all the way to '{last.stage}'.")
print(f"The largest drop-off is into '{worst.stage}': {worst.drop_off:.1%} of the customers at the step before "
      f"did not get there.")'''),
md("""## Funnel by segment
The same funnel per customer segment: compare cumulative conversion at each stage. Small segments have wide
uncertainty, so treat differences of a few points with care."""),
code('''if segment_column and data.customers is not None:
    by_seg = st.funnel(data.events, stages, window=window, by=segment_column, customers=data.customers)
    pivot = by_seg.summary.pivot(index="stage", columns="group", values="cumulative_conversion").loc[list(stages)]
    fig, ax = plt.subplots(figsize=(9, 4))
    pivot.plot(marker="o", ax=ax)
    ax.set_ylabel("cumulative conversion (share of entrants)")
    ax.set_xlabel("stage")
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(f"Funnel by {segment_column}")
    plt.show()
else:
    print("No customer table or segment column given: funnel split skipped.")'''),
md("""## Reading
The funnel shows where customers leave the journey; the biggest drop-off printed above is the first place to look
for friction. The stage & attribution report (01) shows which channels move customers between stages, the
retention report (02) what happens after the first purchase."""),
])
