"""The measured journey map's layout at report width: no two texts overlap, every text is inside the
figure, and the touchpoints, KPIs, stage header and pain score stay inside their stage's column.

Deterministic and browser-free: the figure is drawn with Agg at the notebook's size (05_journey_map:
``max(10, 2.1 * stages)`` by 8 inches) at 100 dpi, and every visible Text's window extent is compared.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import journeylib as jl  # noqa: E402
from journeylib.journeys.journey_map import journey_map  # noqa: E402

TOUCH = 1.0  # texts may touch by up to 1 px
IN_COLUMN = ("stage", "customers", "touch", "kpi", "pain")


def draw(m, width: float | None = None):
    """The map drawn as notebook 05 draws it; returns the figure, the texts and the column boxes."""
    k = len(m.stages)
    fig, ax = plt.subplots(figsize=(width or max(10.0, 2.1 * k), 8), dpi=100)
    assert m.plot(ax=ax) is ax
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    columns = {p.get_gid(): p.get_window_extent(renderer) for p in ax.patches
               if isinstance(p, Patch) and str(p.get_gid()).startswith("journey-map:column:")}
    return fig, boxes, columns


def layout_problems(fig, boxes, columns) -> list[str]:
    problems = []
    fw, fh = fig.bbox.width, fig.bbox.height
    for t, b in boxes:
        if b.x0 < -TOUCH or b.y0 < -TOUCH or b.x1 > fw + TOUCH or b.y1 > fh + TOUCH:
            problems.append(f"outside the figure: {t.get_text()!r} {b.bounds}")
        gid = str(t.get_gid() or "")
        parts = gid.split(":")
        if len(parts) == 3 and parts[0] == "journey-map" and parts[1] in IN_COLUMN:
            c = columns[f"journey-map:column:{parts[2]}"]
            if b.x0 < c.x0 - TOUCH or b.x1 > c.x1 + TOUCH or b.y0 < c.y0 - TOUCH or b.y1 > c.y1 + TOUCH:
                problems.append(f"leaves column {parts[2]}: {t.get_text()!r} {b.bounds} not in {c.bounds}")
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            (ta, a), (tb, b) = boxes[i], boxes[j]
            dx = min(a.x1, b.x1) - max(a.x0, b.x0)
            dy = min(a.y1, b.y1) - max(a.y0, b.y0)
            if dx > TOUCH and dy > TOUCH:
                problems.append(f"overlap {dx:.1f}x{dy:.1f} px: {ta.get_text()!r} and {tb.get_text()!r}")
    return problems


def texts_by_row(boxes, row: str) -> list[str]:
    return [t.get_text() for t, _ in boxes if str(t.get_gid() or "").startswith(f"journey-map:{row}:")]


# --------------------------------------------------------------------------- the sample, as notebook 05 draws it
@pytest.fixture(scope="module")
def sample_map():
    data = jl.load_journey("sample")
    return journey_map(data.events, list(data.stages), feedback=data.feedback, customers=data.customers)


def test_sample_map_has_no_overlap_at_report_width(sample_map):
    fig, boxes, columns = draw(sample_map)
    try:
        assert fig.bbox.width <= 1280
        assert len(columns) == len(sample_map.stages) == 6
        assert layout_problems(fig, boxes, columns) == []
        # the step labels are all there, each in its own row between two columns
        steps = texts_by_row(boxes, "step")
        assert len(steps) == 5 and all(s.endswith("%" + " →") for s in steps)
        assert steps[0] == f"{sample_map.summary['conversion_to_next'].iloc[0]:.0%} →"
        # nothing shortened on the sample: every touchpoint name is drawn whole
        touch = "\n".join(texts_by_row(boxes, "touch"))
        assert "…" not in touch
        tp = sample_map.touchpoints
        for name in tp[(tp["journey"] == "first-time") & (tp["stage"] == "awareness")] \
                .sort_values("customers", ascending=False)["touchpoint"].head(3):
            assert name in touch
        assert "TOP PAIN POINT" in " ".join(" ".join(texts_by_row(boxes, "pain")).split())
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- long names, eight stages
LONG_CHANNELS = ["affiliate_partner_network_premium_tier", "programmatic_display_retargeting_eu",
                 "influencer_collaboration_spring_campaign"]
LONG_STAGES = ["awareness_through_paid_and_owned_media", "consideration", "comparison_of_offers_and_prices",
               "cart", "checkout_with_payment_and_delivery", "purchase", "repeat", "advocacy_and_referrals"]


def long_names_log(n: int = 300, seed: int = 7) -> pd.DataFrame:
    """Customers walking 1-8 stages; every channel and event name is 30+ characters long."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for c in range(n):
        depth = int(rng.integers(1, len(LONG_STAGES) + 1))
        t = float(rng.uniform(0, 30))
        for j, stage in enumerate(LONG_STAGES[:depth]):
            for _ in range(int(rng.integers(1, 3))):
                t += float(rng.exponential(1.5))
                ch = LONG_CHANNELS[int(rng.integers(len(LONG_CHANNELS)))]
                event = "purchase" if stage in ("purchase", "repeat") else f"{stage}_interaction_event_recorded"
                rows.append((f"c{c}", t0 + pd.Timedelta(seconds=round(t * 86400)), event, ch, stage,
                             40.0 if event == "purchase" else None, float(rng.integers(1, 6))))
    return pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel", "stage", "revenue", "score"])


@pytest.fixture(scope="module")
def long_map():
    ev = long_names_log()
    assert all(len(v) >= 30 for v in LONG_CHANNELS) and ev["event"].str.len().max() >= 30
    return journey_map(ev, LONG_STAGES, observation_end=ev["ts"].max())


@pytest.mark.parametrize("width", [None, 12.8], ids=["notebook-size", "1280px"])
def test_long_names_and_eight_stages_never_overlap(long_map, width):
    fig, boxes, columns = draw(long_map, width)
    try:
        assert len(columns) == 8
        assert layout_problems(fig, boxes, columns) == []
        touch = texts_by_row(boxes, "touch")
        assert len(touch) == 8
        # the 30+ character names are broken or shortened, never drawn whole on one line wider than a column
        drawn = "\n".join(touch)
        assert "…" in drawn
        assert not any(name in drawn for name in LONG_CHANNELS)
        assert any(line.startswith(("affiliate", "programmatic", "influencer")) for line in drawn.split("\n"))
        # stage names too: shrunk or shortened inside their header
        assert len(texts_by_row(boxes, "stage")) == 8
    finally:
        plt.close(fig)

