"""Rewrite the raw CDNOW sample log as an event CSV that journeylib.load_events reads.

Raw: `customer_id sample_index YYYYMMDD n_cds dollar_value`, whitespace-separated, no header.
Out: `customer_id,ts,event,revenue,n_cds` with ts = the purchase date (UTC midnight).
Run by `make data`; the output is committed so the notebooks never need this step.
"""
import csv
from pathlib import Path

HERE = Path(__file__).parent
rows = [line.split() for line in (HERE / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
tmp = HERE / ".cdnow_sample_events.csv.tmp"
with open(tmp, "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["customer_id", "ts", "event", "revenue", "n_cds"])
    for cid, _idx, d, n_cds, value in rows:
        w.writerow([cid, f"{d[:4]}-{d[4:6]}-{d[6:]}", "purchase", value, n_cds])
tmp.replace(HERE / "cdnow_sample_events.csv")
print(f"wrote {len(rows)} purchases to cdnow_sample_events.csv")
