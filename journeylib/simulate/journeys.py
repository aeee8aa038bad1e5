"""Synthetic e-commerce journeys with planted, documented ground truth.

The generative story (all times in days from ``start``; every number below is a
parameter recorded in the returned ``ground_truth``):

1. **Acquisition.** Customers arrive uniformly over ``months`` months, from one of six
   channels (``acquisition_share``), in a segment (standard / premium / budget).
2. **Pre-purchase journey.** ``1 + Poisson(1.6)`` touches, about two days apart. The
   first touch is the acquisition channel, later ones are drawn from
   ``touch_share``. Each touch sits at a stage that walks over awareness ->
   consideration -> cart, forward with probability 0.55, back with 0.2 (journeys are
   not linear). The customer converts with the noisy-OR probability
   ``1 - prod(1 - conversion_weight[c])`` over the distinct channels touched, so a
   channel's planted effect is its ``conversion_weight``. The first purchase follows
   the last touch (event ``purchase``, stage ``purchase``, channel missing); converters
   first step on to the cart stage on the channel of their last touch.
   *Option* ``channel_holdout`` (off by default; the bundled sample has ``email``): each customer is
   randomised at acquisition (its own stream) into ``exposed`` or ``holdout`` of experiment
   ``f"{channel}_holdout"``; the holdout arm sees none of the channel's touches after its first
   touch (a retargeting holdout: the acquisition touch stays; converters' last steps to the cart
   stay on the channel of their last touch seen, which may be that acquisition touch), so its
   conversion is the noisy-OR without them. It is planted by thinning: everyone's conversion is
   drawn as without the holdout (``p_with``, over all their touches); a held customer who converted
   keeps the conversion with probability ``p_without / p_with`` (a stream of its own; 1 when the
   hidden touches add no channel), so ``P(convert | holdout) = p_without`` exactly. The hidden
   touches go; a conversion taken away takes with it every row that followed from it (the walk to
   the cart, the purchase and the whole life as a customer: events, loyalty membership,
   experiments, win-back, feedback, messages); its pre-purchase touches stay, and their carts are
   abandoned carts that get a recovery message (drawn from a stream of its own).
3. **Life as a customer** (from the first purchase ``t0``). Purchase rate
   ``lambda ~ Gamma(2, mean 1/30 per day)``; spend per order is Gamma-Gamma
   (``p, q, gamma``). Alive customers browse (``product_view`` / ``add_to_cart``,
   stages consideration / cart: backward moves) about every 8 days, so a gap of more
   than 60 days essentially only happens after true churn. Repeat orders are stage
   ``repeat``; 12% of them are followed by a ``review`` (stage ``advocacy``).
4. **Churn.** True lifetime after ``t0`` has a constant hazard
   ``base_hazard * segment_hazard_ratio``, multiplied by ``loyalty_hazard_ratio``
   from the day the customer joins the loyalty programme (a *time-varying*
   effect: treating membership as a baseline covariate gives immortal-time bias).
5. **Loyalty programme with self-selection.** Join time ~ Exponential with rate
   ``join_rate * lambda / mean(lambda)``: heavy buyers join more and earlier. After
   joining, the purchase rate is multiplied by ``loyalty_rate_multiplier``. A naive
   member vs non-member comparison therefore overstates the effect.
6. **Experiments** start on ``experiment_start`` for customers active in the 60 days
   before, entering over 7 days: ``personalised_offer`` multiplies the purchase rate
   by ``rate_multiplier`` for ``window_days`` after assignment; ``homepage_video``
   (three arms) and ``email_send_time`` have no effect, and ``email_send_time`` loses
   a share of its ``morning`` assignments (a planted sample-ratio mismatch). The ``morning``
   arm's newsletter goes out at 09:00 (:data:`SEND_TIME_MORNING_HOUR`) from its assignment
   on; the open rate does not depend on the hour.
7. **Win-back.** ``send_after_days`` after a purchaser's last activity, a
   ``winback_sent`` touch goes out (email or paid_ads, an outbound event); the
   customer returns with a purchase within 30 days with probability
   ``return_prob[channel]``. Experiment ``winback``: every customer reaching the send is
   assigned at the send time; a share :data:`WINBACK_HOLDOUT_SHARE` is held out (variant
   ``holdout``: no ``winback_sent``, returns with :data:`WINBACK_BASELINE_RETURN`, a purchase
   without channel), the others' variant is the channel sent.
8. **Feedback** (surveys, reviews, NPS), **9. messages** (newsletter, promotions, a
   cart-recovery message at each abandoned cart, and the ``cart_recovery`` experiment: each
   customer's first cart abandoned from the experiments' start on is held out with share
   :data:`CART_HOLDOUT_SHARE` and recovers :data:`RECOVERY_HOLDOUT_RELATIVE` times as often as
   a messaged cart) and **10. costs** (monthly spend of the paid channels) draw from random
   streams of their own.

The campaign experiments (the win-back and cart holdouts, the morning sends) are planted by
thinning: their random numbers come from streams of their own, every row is built as without
them, and the rows they remove (a held-out send or return, a survey at a removed return, a
held-out cart's message with its open and click) are dropped after every draw; a held-out
customer's return loses its channel and the morning arm's newsletter (with its opens and
clicks) moves to 09:00. Every other row of every table is the same as without them. The
channel holdout is planted the same way (step 2): every row of a customer it does not concern
(the exposed arm, and held customers with no hidden touch) is the row written without it; the
monthly costs, computed from the events, follow the events that remain.

Events after ``observation_end`` are not observed. Timestamps are whole seconds;
ties are resolved by :data:`journeylib.schema.ORDER_KEYS`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.checks import flag, whole_number
from ..core.errors import JourneyParameterError
from ..core.schema import CHANNELS, DEFAULT_STAGES

ACQUISITION_SHARE = {"search": 0.26, "social": 0.20, "email": 0.10, "paid_ads": 0.18, "referral": 0.10, "direct": 0.16}
TOUCH_SHARE = {"search": 0.22, "social": 0.20, "email": 0.14, "paid_ads": 0.18, "referral": 0.10, "direct": 0.16}
CONVERSION_WEIGHT = {"email": 0.30, "referral": 0.24, "search": 0.18, "paid_ads": 0.12, "social": 0.07, "direct": 0.03}
SEGMENT_SHARE = {"standard": 0.60, "premium": 0.25, "budget": 0.15}
SEGMENT_HAZARD_RATIO = {"standard": 1.0, "premium": 0.6, "budget": 1.5}
STAGE_SCORE_MEAN = {"awareness": 3.9, "consideration": 3.7, "cart": 2.8, "purchase": 4.2, "repeat": 4.3, "advocacy": 4.6}
PRE_EVENT = {0: "landing", 1: "product_view", 2: "add_to_cart"}

# --- the campaign experiments (each draws from a stream of its own: the rows they do not concern stay as
# they are without them; see the module docstring, steps 6, 7 and 9) ------------------------------------
WINBACK_HOLDOUT_SHARE = 0.2
"""Share of the customers reaching the win-back send held out (experiment ``winback``, variant ``holdout``):
they get no ``winback_sent``; the others' variant is the channel sent (``email`` or ``paid_ads``)."""
WINBACK_BASELINE_RETURN = 0.03
"""Return probability (a purchase within 30 days of the would-be send) of a held-out win-back customer.
Coupled with the sent customers' draw: with the same uniform ``u``, a held-out customer returns iff
``u < 0.03`` (below every channel's return probability, so the holdout only thins the returns)."""
CART_HOLDOUT_SHARE = 0.5
"""Planned share of the ``cart_recovery`` experiment's carts held out (no recovery message)."""
RECOVERY_HOLDOUT_RELATIVE = 0.6
"""Planted recovery rate of a held-out abandoned cart relative to a messaged one (0.6: the message
brings 40% of the messaged carts' recoveries). The purchases come from the events table, so the arm
is drawn given the cart's outcome: with ``r`` the realised recovery rate of the experiment's carts,
``s`` = :data:`CART_HOLDOUT_SHARE` and ``rho`` = 0.6, ``P(holdout | recovered) = s*rho / (s*rho + 1 - s)``
(0.375) and ``P(holdout | not recovered) = s * (1 - p_h) / (1 - r)`` with ``p_m = r / (s*rho + 1 - s)``,
``p_h = rho * p_m``: then ``P(recovered | holdout) / P(recovered | message) = rho`` and the holdout's
expected share is ``s``."""
SEND_TIME_MORNING_HOUR = 9
"""Hour (UTC) of the ``morning`` arm's newsletter sends from its assignment on (experiment ``email_send_time``)."""

# --- the feedback table (its own random stream: the other tables do not change) ---------
SURVEY_SHARE = 0.08
"""Share of staged customer events followed by a one-question survey (score 1-5, the stage's mean
:data:`STAGE_SCORE_MEAN`, sd 0.9, rounded and clipped to 1-5)."""
NPS_MIX = {"standard": (0.45, 0.30, 0.25), "premium": (0.60, 0.25, 0.15), "budget": (0.30, 0.30, 0.40)}
"""(promoters, passives, detractors) of the NPS answers per segment: NPS +20, +45 and -10."""
NPS_RESPONSE = 0.35
"""Share of buyers answering the NPS survey sent 30 to 60 days after their first order."""
REVIEW_RATE = 0.12
"""Share of repeat orders followed by a review (event ``review`` and a feedback row), about 3 days later."""
REVIEW_RATING = {1: 0.05, 2: 0.07, 3: 0.13, 4: 0.35, 5: 0.40}
"""Rating distribution of the reviews (stars)."""
_REVIEW_TEXTS = ("Fast delivery.", "Good value.", "Not as described.", "Would buy again.", "Okay.")


@dataclass(frozen=True)
class SimulatedData:
    """Output of :func:`simulate_journeys`: three canonical tables and the truth.

    Attributes
    ----------
    events, customers, assignments
        pandas DataFrames in the canonical schema. The assignments hold the experiments
        ``personalised_offer``, ``homepage_video``, ``email_send_time``, ``winback`` and
        ``cart_recovery`` (and ``f"{channel}_holdout"`` with ``channel_holdout``).
    ground_truth
        Every planted parameter and effect (see the module docstring).
    feedback
        The feedback table (``customer_id, ts, kind, score, stage, text``: surveys, reviews,
        NPS answers), or ``None``.
    messages
        The message log (``customer_id, ts, campaign, channel, action``: sends, opens, clicks of the
        newsletter, promotions and cart-recovery messages), or ``None``.
    costs
        Monthly spend of the paid channels (``channel, period, spend``) with planted returns
        (``ground_truth["costs"]``), or ``None``.

    Examples
    --------
    >>> import journeylib as jl
    >>> data = jl.simulate_journeys(200, seed=1)
    >>> data.events.shape, data.customers.shape, data.assignments.shape
    ((2808, 7), (200, 6), (174, 4))
    """

    events: pd.DataFrame
    customers: pd.DataFrame
    assignments: pd.DataFrame
    ground_truth: dict[str, Any]
    feedback: pd.DataFrame | None = None
    messages: pd.DataFrame | None = None
    costs: pd.DataFrame | None = None

    def write(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``events/customers/assignments.parquet`` (and ``feedback.parquet``), ``ground_truth.json`` and ``journey.yml``.

        A folder that already holds data files is refused (:func:`refuse_overwrite`) unless
        ``overwrite=True``.

        Parameters
        ----------
        folder
            Where to write (created when missing).
        overwrite
            Replace data files already in ``folder``.

        Returns
        -------
        pathlib.Path
            ``folder``, readable with :func:`journeylib.simulate.datasets.load_dataset`.

        Examples
        --------
        >>> import tempfile
        >>> import journeylib as jl
        >>> data = jl.simulate_journeys(200, seed=1)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = data.write(tmp)
        ...     sorted(p.name for p in folder.iterdir())
        ['assignments.parquet', 'costs.parquet', 'customers.parquet', 'events.parquet', 'feedback.parquet', 'ground_truth.json', 'journey.yml', 'messages.parquet']
        """
        folder = Path(folder)
        refuse_overwrite(folder, overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        names = ("events", "customers", "assignments") + (("feedback",) if self.feedback is not None else ()) \
            + (("messages",) if self.messages is not None else ()) + (("costs",) if self.costs is not None else ())
        for name in names:
            tmp = folder / f".{name}.parquet.tmp"
            # microsecond timestamps: Spark cannot read Parquet nanosecond timestamps
            getattr(self, name).to_parquet(tmp, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
            tmp.replace(folder / f"{name}.parquet")
        tmp = folder / ".ground_truth.json.tmp"
        tmp.write_text(json.dumps(self.ground_truth, indent=2, default=str) + "\n")
        tmp.replace(folder / "ground_truth.json")
        (folder / "journey.yml").write_text(journey_yml(feedback="feedback.parquet" if self.feedback is not None
                                                        else None,
                                                        messages="messages.parquet" if self.messages is not None
                                                        else None,
                                                        costs="costs.parquet" if self.costs is not None else None))
        return folder


DATA_FILE_STEMS = ("events", "customers", "assignments", "feedback", "messages", "costs")
"""Names (any extension, or a folder of parts) of the data files the simulator writes."""


def existing_data_files(folder: str | Path, extra: tuple[str, ...] = ()) -> list[Path]:
    """Data files in ``folder`` a simulation would replace.

    Parameters
    ----------
    folder
        The folder (missing: no files).
    extra
        Further file names to count (e.g. an export's own files).

    Returns
    -------
    list of pathlib.Path
        ``events.*``, ``customers.*``, ``assignments.*``, ``feedback.*``, ``messages.*``, ``costs.*`` (files or
        partition folders),
        ``journey.yml``, ``ground_truth*`` and the ``extra`` names, sorted.

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.simulate.journeys import existing_data_files
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     existing_data_files(tmp)
    []
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.split(".")[0] in DATA_FILE_STEMS or p.name == "journey.yml"
                  or p.name.startswith("ground_truth") or p.name in extra)


def refuse_overwrite(folder: str | Path, overwrite: bool, extra: tuple[str, ...] = ()) -> None:
    """Raise :class:`JourneyParameterError` naming the data files in ``folder`` unless ``overwrite``.

    A simulation never replaces a user's data by accident (``journeylib simulate --out``
    into a folder of real exports); ``overwrite=True`` (``--force``) says it is meant.

    Parameters
    ----------
    folder
        The folder about to be written.
    overwrite
        Allow replacing data files.
    extra
        Further file names to count (:func:`existing_data_files`).

    Returns
    -------
    None
        Raises :class:`JourneyParameterError` when ``folder`` holds data files and
        ``overwrite`` is false.

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.simulate.journeys import refuse_overwrite
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     refuse_overwrite(tmp, overwrite=False)  # an empty folder: nothing to refuse
    """
    if flag(overwrite, "overwrite"):
        return
    found = existing_data_files(folder, extra)
    if found:
        names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in found)
        raise JourneyParameterError(f"{folder} already holds data files ({names}); expected an empty or new "
                                    "folder: choose another folder, or pass overwrite=True (--force on the "
                                    "command line) to replace them")


def journey_yml(events: str = "events.parquet", customers: str = "customers.parquet",
                assignments: str = "assignments.parquet", feedback: str | None = "feedback.parquet",
                messages: str | None = None, costs: str | None = None) -> str:
    """The journey definition written beside simulated data (``data/sample/journey.yml`` is one).

    Parameters
    ----------
    events, customers, assignments
        Paths of the three tables, relative to the folder (globs allowed).
    feedback
        Path of the feedback table (``None``: no feedback source).
    messages
        Path of the message log (``None``: no messages source).
    costs
        Path of the cost table (``None``: no costs source).

    Returns
    -------
    str
        The ``journey.yml`` text.

    Examples
    --------
    >>> from journeylib.simulate.journeys import journey_yml
    >>> "events: {path: events/*/*.parquet}" in journey_yml("events/*/*.parquet")
    True
    """
    return f"""# Journey definition of simulated data (journeylib simulate; see data/README.md for every key).
version: 1
name: Simulated shop (sample data)
sources:
  events: {{path: {events}}}
  customers: {{path: {customers}}}
  assignments: {{path: {assignments}}}
{f"  feedback: {{path: {feedback}}}" + chr(10) if feedback else ""}{f"  messages: {{path: {messages}}}" + chr(10) if messages else ""}{f"  costs: {{path: {costs}}}" + chr(10) if costs else ""}stages:
  order: [{", ".join(DEFAULT_STAGES)}]
  column: stage               # the simulator writes the stage of every event
events:                       # already the canonical names; winback_sent is a canonical outbound event
  purchase: purchase
  revenue: revenue
  cart: add_to_cart
  review: review
touchpoints:
  column: channel
segments: [segment, acquisition_channel]
"""


def simulate_journeys(
    n_customers: int = 5000,
    *,
    seed: int = 42,
    start: str = "2024-01-01",
    months: int = 18,
    base_hazard: float = 1 / 300,
    loyalty_hazard_ratio: float = 0.7,
    loyalty_rate_multiplier: float = 1.25,
    join_rate: float = 1 / 180,
    mean_purchase_rate: float = 1 / 30,
    visit_rate: float = 1 / 8,
    offer_rate_multiplier: float = 1.3,
    experiment_window_days: int = 28,
    srm_lost_share: float = 0.30,
    id_offset: int = 0,
    channel_holdout: str | None = None,
    channel_holdout_share: float = 0.5,
) -> SimulatedData:
    """Generate a realistic journey log with planted ground truth.

    Parameters
    ----------
    n_customers
        Number of customers acquired.
    seed
        Random seed; the output is identical for the same seed and arguments.
    start, months
        First acquisition day and length of the observation (months of 30.4 days).
    base_hazard, loyalty_hazard_ratio
        Churn hazard per day of a standard customer, and its multiplier while a
        loyalty member.
    loyalty_rate_multiplier, join_rate, mean_purchase_rate, visit_rate
        Purchase-process parameters (see the module docstring).
    offer_rate_multiplier, experiment_window_days, srm_lost_share
        Experiment parameters.
    id_offset
        Customer ids start after this number (to simulate in independent chunks).
    channel_holdout
        A channel of :data:`journeylib.core.schema.CHANNELS` to hold out (off by default): every customer
        is randomised at acquisition into ``exposed`` or ``holdout`` of experiment ``f"{channel}_holdout"``;
        the holdout arm gets none of the channel's touches after its first touch (the acquisition touch
        stays), so its conversion is the noisy-OR without them. Planted by thinning (module docstring,
        step 2): the customers it does not concern keep every row they have without it. Truth in
        ``ground_truth["channel_holdout"]``.
    channel_holdout_share
        Share of customers in the ``holdout`` arm (between 0 and 1, exclusive).

    Returns
    -------
    SimulatedData
        Events, customers and assignments (pandas DataFrames) and the ``ground_truth`` dict.

    Examples
    --------
    >>> import journeylib as jl
    >>> data = jl.simulate_journeys(200, seed=1)
    >>> data.events.shape
    (2808, 7)
    >>> list(data.events.columns)
    ['customer_id', 'ts', 'event', 'channel', 'stage', 'revenue', 'score']
    >>> sorted(data.assignments["experiment"].unique())
    ['cart_recovery', 'email_send_time', 'homepage_video', 'personalised_offer', 'winback']
    >>> held = jl.simulate_journeys(200, seed=1, channel_holdout="email")
    >>> held.assignments.query("experiment == 'email_holdout'")["variant"].value_counts().to_dict()
    {'exposed': 111, 'holdout': 89}
    """
    whole_number(n_customers, "n_customers", minimum=1, expected="a whole number of customers, at least 1")
    _check_channel_holdout(channel_holdout, channel_holdout_share)
    rng = np.random.default_rng(seed)
    t_start = pd.Timestamp(start, tz="UTC")
    horizon = round(months * 30.4)
    obs_end = float(horizon)
    n = int(n_customers)
    cids = np.array([f"C{i:06d}" for i in range(id_offset + 1, id_offset + n + 1)])
    ch = np.array(CHANNELS)

    acq_time = rng.uniform(0, obs_end, n)
    acq_ch = rng.choice(len(ch), n, p=[ACQUISITION_SHARE[c] for c in ch])
    seg_names = np.array(list(SEGMENT_SHARE))
    seg = rng.choice(len(seg_names), n, p=list(SEGMENT_SHARE.values()))

    frames: list[pd.DataFrame] = []

    # --- 2. pre-purchase journey ------------------------------------------------
    n_touch = 1 + rng.poisson(1.6, n)
    cust = np.repeat(np.arange(n), n_touch)
    pos = np.arange(len(cust)) - np.repeat(np.cumsum(n_touch) - n_touch, n_touch)
    gaps = np.where(pos == 0, 0.0, rng.exponential(2.0, len(cust)))
    t_touch = acq_time[cust] + _group_cumsum(gaps, n_touch)
    touch_ch = rng.choice(len(ch), len(cust), p=[TOUCH_SHARE[c] for c in ch])
    touch_ch[pos == 0] = acq_ch[cust[pos == 0]]
    stage_idx = np.zeros(len(cust), dtype=int)
    step = rng.choice([1, 0, -1], len(cust), p=[0.55, 0.25, 0.20])
    for k in range(1, int(n_touch.max())):
        at_k = np.flatnonzero(pos == k)
        stage_idx[at_k] = np.clip(stage_idx[at_k - 1] + step[at_k], 0, 2)
    # everyone's conversion is drawn over all their touches, with or without the channel holdout
    touched = np.zeros((n, len(ch)), dtype=bool)
    touched[cust, touch_ch] = True
    w = np.array([CONVERSION_WEIGHT[c] for c in ch])
    p_convert = 1 - np.prod(np.where(touched, 1 - w, 1.0), axis=1)
    last = np.cumsum(n_touch) - 1
    last_seen = last.copy()  # the last touch the customer saw (the holdout hides some)
    held = np.zeros(n, dtype=bool)
    hidden = np.zeros(len(cust), dtype=bool)
    p_planted = p_convert  # each customer's conversion probability in the data (the holdout's: without)
    if channel_holdout is not None:
        # option: a channel holdout, randomised at acquisition on a stream of its own; planted by thinning
        # (see _thin_conversions): the main stream draws the same numbers with and without it
        held = np.random.default_rng([seed, 43]).random(n) < channel_holdout_share
        later = (pos > 0) & (touch_ch == CHANNELS.index(channel_holdout))  # the channel's touches after the first
        hidden = held[cust] & later
        last_seen = np.full(n, -1)
        np.maximum.at(last_seen, cust[~hidden], np.flatnonzero(~hidden))
        without = np.zeros((n, len(ch)), dtype=bool)
        without[cust[~later], touch_ch[~later]] = True
        p_with = p_convert
        p_without = 1 - np.prod(np.where(without, 1 - w, 1.0), axis=1)
        p_planted = np.where(held, p_without, p_with)
    converts = rng.random(n) < p_convert
    # a held customer whose conversion used the hidden touches keeps it with probability p_without / p_with
    lost = _thin_conversions(np.random.default_rng([seed, 44]), held, converts, p_convert, p_planted) \
        if channel_holdout is not None else np.zeros(n, dtype=bool)
    # converters walk on to the cart before buying, on the channel of their last touch seen
    # (no new channel, so the noisy-OR truth is unchanged)
    n_extra = np.where(converts, 2 - stage_idx[last], 0)
    xc = np.repeat(np.arange(n), n_extra)
    xpos = np.arange(len(xc)) - np.repeat(np.cumsum(n_extra) - n_extra, n_extra)
    x_stage = stage_idx[last][xc] + 1 + xpos
    x_time = t_touch[last][xc] + _group_cumsum(rng.exponential(1.0, len(xc)), n_extra[n_extra > 0])
    last_touch = t_touch[last].copy()
    np.maximum.at(last_touch, xc, x_time)
    t0 = last_touch + rng.exponential(0.5, n)
    buyer = converts & (t0 < obs_end)
    pre = _events(np.concatenate([cids[cust], cids[xc]]), np.concatenate([t_touch, x_time]),
                  [PRE_EVENT[s] for s in np.concatenate([stage_idx, x_stage])],
                  ch[np.concatenate([touch_ch, touch_ch[last_seen][xc]])],
                  np.array(DEFAULT_STAGES)[np.concatenate([stage_idx, x_stage])], None)
    # the hidden touches go, and a lost conversion's walk to the cart (after every draw, see _DROP)
    frames.append(pre.assign(_fix=np.where(np.concatenate([hidden, lost[xc]]), _DROP, _KEEP)))

    # --- 3-5. life as a customer ------------------------------------------------
    b = np.flatnonzero(buyer)
    nb = len(b)
    gone = lost[b]  # buyers whose conversion the channel holdout takes away: every row of their life goes
    drop_if = lambda who: np.where(gone[who], _DROP, _KEEP)  # noqa: E731
    lam = rng.gamma(2.0, mean_purchase_rate / 2.0, nb)
    spend_p, spend_q, spend_gamma = 6.0, 4.0, 20.0
    nu = rng.gamma(spend_q, 1 / spend_gamma, nb)
    hz = base_hazard * np.array([SEGMENT_HAZARD_RATIO[s] for s in seg_names])[seg[b]]
    join = t0[b] + rng.exponential(1.0, nb) / (join_rate * lam / mean_purchase_rate)
    e = rng.exponential(1.0, nb)
    pre_join_h = hz * (join - t0[b])
    death = np.where(e < pre_join_h, t0[b] + e / hz, join + (e - pre_join_h) / (hz * loyalty_hazard_ratio))
    member = join < np.minimum(death, obs_end)
    alive_until = np.minimum(death, obs_end)

    frames.append(_events(cids[b], t0[b], "purchase", None, "purchase", _spend(rng, spend_p, nu))
                  .assign(_fix=drop_if(np.arange(nb))))

    # browsing while alive
    nv = rng.poisson(visit_rate * (alive_until - t0[b]))
    vi = np.repeat(np.arange(nb), nv)
    tv = rng.uniform(t0[b][vi], alive_until[vi])
    cart = rng.random(len(vi)) < 0.25
    frames.append(_events(cids[b][vi], tv, np.where(cart, "add_to_cart", "product_view"),
                          ch[rng.choice(len(ch), len(vi), p=[TOUCH_SHARE[c] for c in ch])],
                          np.where(cart, "cart", "consideration"), None).assign(_fix=drop_if(vi)))

    # repeat purchases by thinning a Poisson process at the largest possible rate
    lam_max = lam * loyalty_rate_multiplier * max(offer_rate_multiplier, 1.0)
    nc = rng.poisson(lam_max * (alive_until - t0[b]))
    pi = np.repeat(np.arange(nb), nc)
    tp = rng.uniform(t0[b][pi], alive_until[pi])
    up = rng.random(len(pi))
    base_rate = lam[pi] * np.where(tp > join[pi], loyalty_rate_multiplier, 1.0)

    # --- 6. experiments (assignment uses only activity before the start) ----------
    exp_start = float(round(horizon * 0.78))
    pre_accept = up < base_rate / lam_max[pi]
    last_before = np.full(nb, -np.inf)
    for times, who in ((tv, vi), (tp[pre_accept], pi[pre_accept]), (t0[b], np.arange(nb))):
        m = times < exp_start
        np.maximum.at(last_before, who[m], times[m])
    eligible = np.flatnonzero(last_before >= exp_start - 60)
    assignments, offer_treated, assigned_at = _assign(rng, cids[b], eligible, exp_start, srm_lost_share)
    win_lo, win_hi = assigned_at, assigned_at + experiment_window_days
    in_window = offer_treated[pi] & (tp >= win_lo[pi]) & (tp < win_hi[pi])
    rate = base_rate * np.where(in_window, offer_rate_multiplier, 1.0)
    keep = up < rate / lam_max[pi]
    pi, tp = pi[keep], tp[keep]
    frames.append(_events(cids[b][pi], tp, "purchase", None, "repeat", _spend(rng, spend_p, nu[pi]))
                  .assign(_fix=drop_if(pi)))
    rv = rng.random(len(pi)) < REVIEW_RATE
    tr = tp[rv] + rng.exponential(3.0, rv.sum())
    ok = tr < alive_until[pi[rv]]
    frames.append(_events(cids[b][pi[rv]][ok], tr[ok], "review", None, "advocacy", None)
                  .assign(_fix=drop_if(pi[rv][ok])))

    # --- 7. win-back ------------------------------------------------------------
    last_act = t0[b].copy()
    for times, who in ((tv, vi), (tp, pi)):
        np.maximum.at(last_act, who, times)
    send_after, return_within = 75, 30
    wb_channels = np.array(["email", "paid_ads"])
    return_prob = {"email": 0.12, "paid_ads": 0.06}
    send = last_act + send_after
    sent = np.flatnonzero(send < obs_end)
    wb_ch = rng.choice(2, len(sent), p=[0.7, 0.3])
    # the win-back experiment (its own stream): the holdout's sends are built, flagged and dropped at the end
    wb_hold = np.random.default_rng([seed, 41]).random(len(sent)) < WINBACK_HOLDOUT_SHARE
    frames.append(_events(cids[b][sent], send[sent], "winback_sent", wb_channels[wb_ch], None, None)
                  .assign(_fix=np.where(wb_hold | gone[sent], _DROP, _KEEP)))
    u_ret = rng.random(len(sent))
    returns = u_ret < np.array([return_prob[c] for c in wb_channels])[wb_ch]
    t_ret = send[sent] + rng.uniform(0.5, return_within, len(sent))
    ret = returns & (t_ret < obs_end)
    # a held-out customer returns iff u < WINBACK_BASELINE_RETURN (coupled: a subset of the returns drawn)
    hold_returns = wb_hold & (u_ret < WINBACK_BASELINE_RETURN)
    ret_kept = ret & (~wb_hold | hold_returns)
    frames.append(_events(cids[b][sent][ret], t_ret[ret], "purchase", wb_channels[wb_ch][ret], "repeat",
                          _spend(rng, spend_p, nu[sent][ret]))
                  .assign(_fix=np.where(gone[sent][ret], _DROP, np.where(~wb_hold[ret], _KEEP,
                                                                         np.where(hold_returns[ret], _NO_CHANNEL,
                                                                                  _DROP)))))

    # --- assemble -----------------------------------------------------------------
    events = pd.concat(frames, ignore_index=True)
    events = events[events["t"] < obs_end]
    events["ts"] = t_start + pd.to_timedelta(np.floor(events["t"].to_numpy() * 86400), unit="s")
    has_score = (rng.random(len(events)) < 0.35) & events["stage"].notna().to_numpy()
    mean = events["stage"].map(STAGE_SCORE_MEAN).fillna(3.5).to_numpy()
    score = np.clip(np.round(rng.normal(mean, 0.9)), 1, 5)
    events["score"] = np.where(has_score, score, np.nan)
    events = events.drop(columns="t").sort_values(["customer_id", "ts", "event", "channel", "stage"],
                                                  na_position="first", kind="mergesort")
    events = events.reset_index(drop=True)
    # rows of the campaign experiments: kept, dropped (a held-out send or return), or kept without a channel
    fix = events["_fix"].fillna(_KEEP).to_numpy(dtype=int)
    events = events[["customer_id", "ts", "event", "channel", "stage", "revenue", "score"]]

    member = member & ~gone  # a lost conversion never joins the programme
    joined = np.full(n, np.nan)
    joined[b[member]] = join[member]
    customers = pd.DataFrame({
        "customer_id": cids,
        "segment": seg_names[seg],
        "acquisition_channel": ch[acq_ch],
        "first_seen_at": t_start + pd.to_timedelta(np.floor(acq_time * 86400), unit="s"),
        "loyalty_member": ~np.isnan(joined),
        "loyalty_joined_at": t_start + pd.to_timedelta(np.floor(np.nan_to_num(joined, nan=0) * 86400), unit="s"),
    })
    customers.loc[~customers["loyalty_member"], "loyalty_joined_at"] = pd.NaT
    wb_variant = np.where(wb_hold, "holdout", wb_channels[wb_ch])
    assignments = pd.concat([assignments, pd.DataFrame({"customer_id": cids[b][sent], "experiment": "winback",
                                                        "variant": wb_variant, "t": send[sent]})],
                            ignore_index=True)
    assignments["assigned_at"] = t_start + pd.to_timedelta(np.floor(assignments["t"] * 86400), unit="s")
    assignments = assignments.drop(columns="t")
    if gone.any():  # a lost conversion's experiments (all among buyers) go with its life as a customer
        assignments = assignments[~assignments["customer_id"].isin(cids[b][gone])].reset_index(drop=True)

    # sample truth of the offer experiment: expected purchases in the window per user
    # (integrated purchase rate while alive), under control and under treatment
    offer = assignments["experiment"] == "personalised_offer"
    oi = np.searchsorted(cids[b], assignments.loc[offer, "customer_id"].to_numpy())
    big_l = _integrated_rate(lam[oi], join[oi], loyalty_rate_multiplier, np.maximum(win_lo[oi], t0[b][oi]),
                             np.minimum(win_hi[oi], alive_until[oi]))
    conv_c = float(np.mean(1 - np.exp(-big_l)))
    conv_t = float(np.mean(1 - np.exp(-offer_rate_multiplier * big_l)))
    truth = {
        "seed": seed,
        "n_customers": n,
        "start": str(t_start),
        "observation_end": str(t_start + pd.Timedelta(days=obs_end)),
        "stages": list(DEFAULT_STAGES),
        "channels": {
            "acquisition_share": ACQUISITION_SHARE,
            "touch_share": TOUCH_SHARE,
            "conversion_weight": CONVERSION_WEIGHT,
            "order_by_effect": sorted(CONVERSION_WEIGHT, key=CONVERSION_WEIGHT.get, reverse=True),
            "conversion_model": "noisy-OR over distinct channels touched before the first purchase",
        },
        "conversion": {"realised_rate": float((buyer & ~lost).mean())},
        "segments": {"share": SEGMENT_SHARE, "churn_hazard_ratio": SEGMENT_HAZARD_RATIO},
        "churn": {
            "base_hazard_per_day": base_hazard,
            "loyalty_hazard_ratio": loyalty_hazard_ratio,
            "loyalty_effect_is_time_varying": True,
            "clock": "days from first purchase",
            "activity_gap_while_alive_days": 1 / visit_rate,
        },
        "purchase_process": {
            "rate_gamma_shape": 2.0,
            "mean_rate_per_day": mean_purchase_rate,
            "loyalty_rate_multiplier": loyalty_rate_multiplier,
        },
        "spend": {"gamma_gamma_p": spend_p, "gamma_gamma_q": spend_q, "gamma_gamma_gamma": spend_gamma,
                  "mean_order_value": spend_p * spend_gamma / (spend_q - 1)},
        "loyalty": {
            "join_rate_per_day_at_mean_purchase_rate": join_rate,
            "self_selection": "join rate proportional to the customer's purchase rate",
            "hazard_ratio": loyalty_hazard_ratio,
            "purchase_rate_multiplier": loyalty_rate_multiplier,
            "members": int(member.sum()),
        },
        "experiments": {
            "start": str(t_start + pd.Timedelta(days=exp_start)),
            "eligibility": "purchasers active in the 60 days before the start; entry spread over 7 days",
            "window_days": experiment_window_days,
            "personalised_offer": {
                "variants": ["control", "treatment"], "planned_split": [0.5, 0.5],
                "purchase_rate_multiplier": offer_rate_multiplier,
                "true_relative_lift": {"purchases_per_user": offer_rate_multiplier - 1,
                                       "revenue_per_user": offer_rate_multiplier - 1},
                "true_conversion": {"control": conv_c, "treatment": conv_t, "absolute_lift": conv_t - conv_c},
                "note": "win-back returns inside the window (rare) dilute the purchase lift slightly",
            },
            "homepage_video": {"variants": ["control", "video_a", "video_b"], "planned_split": [1 / 3] * 3,
                               "true_relative_lift": 0.0},
            "email_send_time": {"variants": ["control", "morning"], "planned_split": [0.5, 0.5],
                                "true_relative_lift": 0.0, "srm_lost_share_of_morning": srm_lost_share},
        },
        "winback": _winback_truth(send_after, return_within, return_prob, wb_variant[~gone[sent]],
                                  send[sent][~gone[sent]], u_ret[~gone[sent]], ret_kept[~gone[sent]], obs_end),
        "tie_order": ["ts", "event", "channel", "stage"],
    }
    # --- 8. feedback: surveys, reviews, NPS (its own random stream) ----------------
    # (drawn over every row built, then the rows of the dropped events go: the other rows stay as they are)
    feedback, truth["feedback"] = _feedback(
        np.random.default_rng([seed, 24]), events, customers, t_start, obs_end, cids[b], t0[b], alive_until,
        review_orders=(tp[~gone[pi]], alive_until[pi][~gone[pi]], t_ret[ret_kept & ~gone[sent]]),
        referral=(p_planted, acq_time, ch[acq_ch]), dropped=fix == _DROP, gone=gone)
    # --- 9. messages: newsletter, promotions, cart recovery (its own random stream) ---
    morning = assignments[(assignments["experiment"] == "email_send_time") & (assignments["variant"] == "morning")]
    messages, truth["messages"], truth["carts"], cart_assign = _messages_log(
        np.random.default_rng([seed, 31]), events, t_start, obs_end, cids[b], t0[b], alive_until, death,
        exp_rng=np.random.default_rng([seed, 42]), cart_start=exp_start,
        morning=(morning["customer_id"].to_numpy(), (morning["assigned_at"] - t_start) / pd.Timedelta(days=1)),
        dropped=fix == _DROP, gone=gone, redraw_rng=np.random.default_rng([seed, 45]))
    # --- the campaign experiments' rows go (or lose their channel): everything else stays as drawn ---
    events = events[fix != _DROP].reset_index(drop=True)
    events.loc[fix[fix != _DROP] == _NO_CHANNEL, "channel"] = None
    events = events.sort_values(["customer_id", "ts", "event", "channel", "stage"], na_position="first",
                                kind="mergesort").reset_index(drop=True)
    extra = [cart_assign.assign(assigned_at=t_start + pd.to_timedelta(np.floor(cart_assign["t"] * 86400), unit="s"))
             .drop(columns="t")]
    if channel_holdout is not None:
        name = f"{channel_holdout}_holdout"
        extra.append(pd.DataFrame({"customer_id": cids, "experiment": name,
                                   "variant": np.where(held, "holdout", "exposed"),
                                   "assigned_at": customers["first_seen_at"].to_numpy()}))
        truth["channel_holdout"] = _channel_holdout_truth(channel_holdout, channel_holdout_share, held, p_with,
                                                          p_without, converts & ~lost, buyer & ~lost, acq_time,
                                                          obs_end, hidden=hidden, cust=cust, lost=lost)
    assignments = pd.concat([assignments, *extra], ignore_index=True)
    # --- 10. costs: monthly spend of the paid channels (its own random stream) --------
    costs, truth["costs"] = _simulate_costs(np.random.default_rng([seed, 30]), events, t_start, obs_end)
    return SimulatedData(events, customers, assignments, truth, feedback, messages, costs)


def _check_channel_holdout(channel, share) -> None:
    if channel is not None and channel not in CHANNELS:
        raise JourneyParameterError(f"channel_holdout={channel!r} is not a simulated channel; expected one "
                                    f"of {list(CHANNELS)}, or None for no channel holdout")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise JourneyParameterError(f"channel_holdout_share={share!r}; expected the holdout arm's share of "
                                    "customers, a number between 0 and 1 (exclusive), e.g. 0.5")


_KEEP, _DROP, _NO_CHANNEL = 0, 1, 2
"""What becomes of a built event row: kept, dropped (a held-out win-back send or return), kept without channel."""


def _winback_truth(send_after, return_within, return_prob, variant, t_send, u, returned, obs_end):
    """``ground_truth["winback"]``: the planted win-back and its experiment, with the sample's truth.

    ``variant`` per customer reaching the send (``holdout`` or the channel), ``t_send`` the (would-be) send
    day, ``u`` the uniform of the return draw, ``returned`` whether the return is in the events.
    """
    followed = t_send + return_within <= obs_end
    arms = ["holdout", *return_prob]
    share = {"holdout": WINBACK_HOLDOUT_SHARE,
             **{c: (1 - WINBACK_HOLDOUT_SHARE) * p for c, p in {"email": 0.7, "paid_ads": 0.3}.items()}}
    n = {a: int((followed & (variant == a)).sum()) for a in arms}
    k = {a: int((followed & (variant == a) & returned).sum()) for a in arms}
    # the sample's incremental return per channel: each sent customer's return minus the return they would
    # have had in the holdout (same uniform, u < baseline), over the customers followed for the whole window
    incr = {}
    for c, p in return_prob.items():
        m = followed & (variant == c)
        incr[c] = float(np.mean((u[m] < p).astype(float) - (u[m] < WINBACK_BASELINE_RETURN))) if m.any() else None
    return {
        "send_after_days_inactive": send_after, "return_within_days": return_within,
        "return_prob": return_prob, "channel_share": {"email": 0.7, "paid_ads": 0.3},
        "experiment": "winback", "holdout_share": WINBACK_HOLDOUT_SHARE,
        "baseline_return_prob": WINBACK_BASELINE_RETURN,
        "planned_split": share,
        "assigned_at": "the (would-be) send time: last activity + send_after_days_inactive",
        "incremental_return_prob": {c: p - WINBACK_BASELINE_RETURN for c, p in return_prob.items()},
        "sample": {"followed": f"customers whose {return_within}-day window ends before the observation end",
                   "customers": n, "returned": k,
                   "return_rate": {a: (k[a] / n[a] if n[a] else None) for a in arms},
                   "incremental_return_rate": incr},
        "holdout_note": "the holdout gets no winback_sent; its returns are purchases without a channel",
    }


def _thin_conversions(rng: np.random.Generator, held: np.ndarray, converts: np.ndarray, p_with: np.ndarray,
                      p_without: np.ndarray) -> np.ndarray:
    """The conversions the channel holdout takes away (one flag per customer); draws only from ``rng``.

    Every customer's conversion is drawn with ``p_with`` (the noisy-OR over all their touches, as without
    the holdout); a held customer who converted keeps it with probability ``p_without / p_with`` (1 when the
    hidden touches add no channel: nothing to take away), so ``P(convert | held) = p_without`` exactly.
    One uniform per customer, whoever they are: the stream does not depend on who converted.
    """
    u = rng.random(len(held))
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(p_with > 0, p_without / p_with, 1.0)
    return held & converts & (p_without < p_with) & (u >= keep)


def _channel_holdout_truth(channel, share, held, p_with, p_without, converts, buyer, acq_time, obs_end,
                           followed_days: int = 30, *, hidden, cust, lost):
    """``ground_truth["channel_holdout"]``: the planted conversions of each arm (noisy-OR, exact) and the sample's.

    ``converts`` and ``buyer``: the conversions in the data (after the thinning); ``hidden`` the touches the
    holdout hid (customer ``cust``), ``lost`` the customers whose conversion it took away.
    """
    exposed = ~held
    followed = acq_time <= obs_end - followed_days
    arm = {"exposed": exposed, "holdout": held}
    p_arm = {"exposed": p_with, "holdout": p_without}
    return {
        "experiment": f"{channel}_holdout", "channel": channel, "holdout_share": share,
        "planned_split": {"exposed": 1 - share, "holdout": share},
        "assigned_at": "first_seen_at (randomised at acquisition)",
        "scope": "the holdout arm gets none of the channel's touches after its first touch (before the first "
                 "purchase): a retargeting holdout, the acquisition touch stays",
        "planting": "thinning: every conversion is drawn over all the customer's touches; a held customer "
                    "whose hidden touches added the channel keeps it with probability p_without / p_with "
                    "(stream (seed, 44)), so P(convert | holdout) = p_without exactly; the hidden touches and "
                    "every row that followed from a lost conversion go, every other row is the one without "
                    "the holdout",
        "customers_with_hidden_touches": int(np.unique(cust[hidden]).size),
        "hidden_touches": int(hidden.sum()),
        "conversions_taken_away": int(lost.sum()),
        "customers": {a: int(m.sum()) for a, m in arm.items()},
        "expected_conversion_per_customer": {a: float(p_arm[a][m].mean()) if m.any() else None
                                             for a, m in arm.items()},
        "expected_conversions": {a: float(p_arm[a][m].sum()) for a, m in arm.items()},
        "expected_incremental_conversions": float((p_with - p_without)[exposed].sum()),
        "expected_incremental_per_exposed_customer": float((p_with - p_without)[exposed].mean())
        if exposed.any() else None,
        "realised_conversions": {a: int(converts[m].sum()) for a, m in arm.items()},
        "observed_first_purchases": {a: int(buyer[m].sum()) for a, m in arm.items()},
        "followed_days": followed_days,
        "followed_customers": {a: int((m & followed).sum()) for a, m in arm.items()},
        "expected_conversion_per_followed_customer": {
            a: float(p_arm[a][m & followed].mean()) if (m & followed).any() else None for a, m in arm.items()},
        "note": "realised conversions are drawn for every customer; a conversion after the observation end is "
                "not in the events (observed_first_purchases): compare with customers acquired at least "
                "followed_days before the end",
    }


# --- the cost table (its own random stream: the other tables do not change) -------------
PLANTED_ROAS = {"email": 3.0, "paid_ads": 1.0, "social": 0.4}
"""Planted return on ad spend of the paid channels: first-order revenue credited to the channel
(linear credit: each touch before the first purchase an equal share) per unit of spend. Email
clearly pays back, social clearly does not, paid ads breaks even (uncertain). The other channels
(search, referral, direct) are organic: no spend."""
COST_NOISE_SD = 0.25
"""Month-to-month spread of the spend (lognormal sd) around the planted return."""


def _simulate_costs(rng: np.random.Generator, events: pd.DataFrame, t_start: pd.Timestamp,
                   obs_end: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The monthly cost table of the paid channels and its planted truth; draws only from ``rng``.

    For each paid channel (:data:`PLANTED_ROAS`) and month, the first-order revenue credited to
    the channel by linear credit (journeys cut at the first purchase, as
    :func:`journeylib.journeys.paths.journeys` builds them), divided by the planted return and
    spread over months with lognormal noise (:data:`COST_NOISE_SD`); each channel's total spend is
    its credited revenue over the planted return, so the channel's return over the whole period
    is the planted one.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``channel, period`` (``YYYY-MM``), ``spend``; the truth for ``ground_truth["costs"]``.
    """
    months = pd.period_range(t_start.tz_localize(None), (t_start + pd.Timedelta(days=obs_end)).tz_localize(None)
                             - pd.Timedelta(seconds=1), freq="M").strftime("%Y-%m").tolist()
    buys = events[events["event"] == "purchase"]
    first = buys.groupby("customer_id", sort=True)["ts"].min().rename("ts0")
    fb = buys.join(first, on="customer_id")
    rev0 = fb[fb["ts"] == fb["ts0"]].groupby("customer_id")["revenue"].sum()
    touch = events[events["channel"].notna() & (events["event"] != "purchase")
                   & ~events["event"].isin(["winback_sent", "message_sent"])].join(first, on="customer_id", how="inner")
    touch = touch[touch["ts"] <= touch["ts0"]]
    n_touch = touch.groupby("customer_id")["ts"].transform("size")
    credit = touch["customer_id"].map(rev0).fillna(0.0) / n_touch
    month = touch["ts0"].dt.strftime("%Y-%m")
    credited = credit.groupby([touch["channel"], month]).sum()
    rows, truth_ch = [], {}
    for c, roas in PLANTED_ROAS.items():
        rev = np.array([float(credited.get((c, m), 0.0)) for m in months])
        raw = rev * np.exp(rng.normal(0.0, COST_NOISE_SD, len(months)))
        total = rev.sum() / roas
        spend = np.round(raw * (total / raw.sum()) if raw.sum() > 0 else np.full(len(months), total / len(months)), 2)
        rows += [{"channel": c, "period": m, "spend": float(s)} for m, s in zip(months, spend)]
        truth_ch[c] = {"planted_roas": roas, "spend": float(spend.sum()), "credited_revenue": float(rev.sum())}
    costs = pd.DataFrame(rows, columns=["channel", "period", "spend"])
    truth = {
        "table": "costs: channel, period (month YYYY-MM), spend",
        "random_stream": "its own (seed, 30): the other tables are those of the seed without costs",
        "return_model": "linear",
        "return": "first-order revenue credited by linear credit (equal share per touch before the first "
                  "purchase) per unit of spend, over the whole period",
        "planted_roas": dict(PLANTED_ROAS),
        "profitable": ["email"], "unprofitable": ["social"], "uncertain": ["paid_ads"],
        "organic_channels": [c for c in CHANNELS if c not in PLANTED_ROAS],
        "channels": truth_ch,
        "month_noise_sd": COST_NOISE_SD,
    }
    return costs, truth


def _expected_score(mean: float, sd: float = 0.9) -> float:
    """Mean of ``clip(round(Normal(mean, sd)), 1, 5)``: what a survey's average converges to."""
    from scipy.stats import norm

    cuts = norm.cdf((np.array([1.5, 2.5, 3.5, 4.5]) - mean) / sd)
    probs = np.diff(np.concatenate([[0.0], cuts, [1.0]]))
    return float(np.dot(probs, np.arange(1, 6)))


def _feedback(rng, events, customers, t_start, obs_end, buyer_ids, t0, alive_until, *, review_orders, referral,
              review_within: int = 30, referral_followed: int = 60, dropped=None, gone=None):
    """The feedback table and its planted truth (see :data:`SURVEY_SHARE`, :data:`NPS_MIX`, ...).

    Surveys are answered at a share of staged customer events (same time); every ``review``
    event gets a rating (and, for half of them, a short text); buyers answer an NPS survey
    30 to 60 days after their first order. Draws only from ``rng``. ``dropped`` (one flag per
    row of ``events``): events the campaign experiments and the channel holdout remove after every
    draw; their surveys and reviews go too. ``gone`` (one flag per buyer): buyers whose conversion the
    channel holdout took away; their NPS answer goes.
    """
    day = pd.Timedelta(days=1)
    end_ts = t_start + obs_end * day
    # surveys after staged customer events
    staged = events[events["stage"].notna() & (events["event"] != "review")]
    pick = staged[rng.random(len(staged)) < SURVEY_SHARE]
    mean = pick["stage"].map(STAGE_SCORE_MEAN).to_numpy(dtype=float)
    surveys = pd.DataFrame({"customer_id": pick["customer_id"].to_numpy(), "ts": pick["ts"],
                            "kind": "survey", "score": np.clip(np.round(rng.normal(mean, 0.9)), 1, 5),
                            "stage": pick["stage"].to_numpy(), "text": None})
    if dropped is not None:
        surveys = surveys[~np.asarray(dropped)[pick.index.to_numpy()]]
    # ratings of the review events
    rev = events[events["event"] == "review"]
    stars = np.array(list(REVIEW_RATING))
    has_text = rng.random(len(rev)) < 0.5
    texts = np.array(_REVIEW_TEXTS, dtype=object)[rng.integers(0, len(_REVIEW_TEXTS), len(rev))]
    reviews = pd.DataFrame({"customer_id": rev["customer_id"].to_numpy(), "ts": rev["ts"].to_numpy(),
                            "kind": "review",
                            "score": rng.choice(stars, len(rev), p=list(REVIEW_RATING.values())).astype(float),
                            "stage": rev["stage"].to_numpy(), "text": np.where(has_text, texts, None)})
    if dropped is not None:
        reviews = reviews[~np.asarray(dropped)[rev.index.to_numpy()]]
    # NPS 30-60 days after the first order
    seg = customers.set_index("customer_id").loc[buyer_ids, "segment"].to_numpy()
    t_nps = t0 + rng.uniform(30, 60, len(buyer_ids))
    answer = (rng.random(len(buyer_ids)) < NPS_RESPONSE) & (t_nps < alive_until)
    u = rng.random(len(buyer_ids))
    mix = np.array([NPS_MIX[g] for g in seg])
    cat = np.where(u < mix[:, 0], 0, np.where(u < mix[:, 0] + mix[:, 1], 1, 2))
    score = np.where(cat == 0, rng.choice([9, 10], len(u), p=[0.4, 0.6]),
                     np.where(cat == 1, rng.choice([7, 8], len(u)),
                              rng.choice(7, len(u), p=[0.03, 0.03, 0.05, 0.09, 0.15, 0.25, 0.40])))
    if gone is not None:
        answer = answer & ~np.asarray(gone)  # (after every draw)
    nps_rows = pd.DataFrame({"customer_id": buyer_ids[answer],
                             "ts": t_start + pd.to_timedelta(np.floor(t_nps[answer] * 86400), unit="s"),
                             "kind": "nps", "score": score[answer].astype(float), "stage": None, "text": None})
    fb = pd.concat([surveys, reviews, nps_rows], ignore_index=True)
    fb = fb[fb["ts"] < end_ts]
    fb["ts"] = fb["ts"].dt.floor("s")
    fb = fb.sort_values(["customer_id", "ts", "kind"], kind="mergesort").reset_index(drop=True)
    fb["stage"] = fb["stage"].astype(object).where(fb["stage"].notna(), None)
    fb["text"] = fb["text"].astype(object).where(fb["text"].notna(), None)

    # review rate per repeat order with review_within days of follow-up: the expectation given
    # the orders (win-back returns are never reviewed; a review after the end of life is lost)
    tp, alive, t_winback = review_orders
    late = obs_end - review_within
    kept = tp <= late
    expected_reviews = REVIEW_RATE * np.sum(1 - np.exp(-(alive[kept] - tp[kept]) / 3.0))
    n_orders = int(kept.sum() + (t_winback <= late).sum())
    p_convert, acq_time, acq_channel = referral
    followed = acq_time <= obs_end - referral_followed
    referred = followed & (acq_channel == "referral")
    share = customers["segment"].value_counts(normalize=True)
    nps_seg = {g: 100 * (m[0] - m[2]) for g, m in NPS_MIX.items()}
    truth = {
        "table": "feedback: customer_id, ts, kind (survey, review, nps), score, stage, text",
        "random_stream": "its own (seed, 24): the other tables are those of the seed without feedback",
        "survey": {"share_of_staged_events": SURVEY_SHARE, "sd": 0.9, "scale": [1, 5],
                   "stage_score_mean": STAGE_SCORE_MEAN,
                   "stage_expected_score": {k: _expected_score(v) for k, v in STAGE_SCORE_MEAN.items()},
                   "same_in_first_time_and_repeat_journeys": True,
                   "emotion_line_expected": {**{k: _expected_score(v) for k, v in STAGE_SCORE_MEAN.items()
                                                if k != "advocacy"},
                                             "advocacy": float(sum(k * v for k, v in REVIEW_RATING.items()))},
                   "emotion_line_note": "surveys at every stage but advocacy, where the review ratings speak",
                   "lowest_stage": min(STAGE_SCORE_MEAN, key=STAGE_SCORE_MEAN.get)},
        "nps": {"mix_promoters_passives_detractors": {g: list(m) for g, m in NPS_MIX.items()},
                "by_segment": nps_seg,
                "overall_expected": float(sum(share.get(g, 0.0) * v for g, v in nps_seg.items())),
                "response_rate": NPS_RESPONSE, "sent_days_after_first_order": [30, 60],
                "loyalty_member_effect": 0.0},
        "reviews": {"rate_per_repeat_order": REVIEW_RATE, "mean_days_to_review": 3.0,
                    "within_days": review_within,
                    "expected_rate_per_repeat_order": float(expected_reviews / n_orders) if n_orders else None,
                    "repeat_orders_followed": n_orders,
                    "note": "win-back returns are never reviewed and a review after churn is lost, so the "
                            "expected rate per repeat order is a little below rate_per_repeat_order",
                    "rating_share": {str(k): v for k, v in REVIEW_RATING.items()},
                    "mean_rating": float(sum(k * v for k, v in REVIEW_RATING.items())),
                    "first_orders_reviewed": 0.0},
        "referral": {"acquisition_channel": "referral", "followed_days": referral_followed,
                     "referred_conversion_expected": float(p_convert[referred].mean()) if referred.any() else None,
                     "other_conversion_expected": float(p_convert[followed & ~referred].mean())
                     if (followed & ~referred).any() else None,
                     "referred_customers": int(referred.sum()),
                     "referral_events": 0,
                     "definition": "expected conversion (noisy-OR over the channels touched) of the customers "
                                   "acquired through referral at least followed_days before the end"},
    }
    return fb[["customer_id", "ts", "kind", "score", "stage", "text"]], truth


# --- the message log (its own random stream: the other tables do not change) ------------
MESSAGE_OPEN_RATE = {("newsletter", "email"): 0.30, ("promotion", "push"): 0.12, ("promotion", "sms"): 0.20,
                     ("cart_recovery", "email"): 0.45, ("cart_recovery", "push"): 0.25,
                     ("cart_recovery", "sms"): 0.35, ("cart_recovery", "retargeting"): 0.55}
"""Planted probability that an engaged customer opens a message, per (campaign, channel)."""
MESSAGE_CLICK_RATE = {"newsletter": 0.20, "promotion": 0.30, "cart_recovery": 0.40}
"""Planted probability of a click given an open, per campaign."""
MESSAGE_SEND_HOURS = (8, 12, 18, 21)
"""Hours (UTC) messages go out at, equally often; the send hour has no planted effect."""
FATIGUE_DAYS_BEFORE_CHURN = 45.0
FATIGUE_OPEN_MULTIPLIER = 0.2
"""Disengagement before churn: from 45 days before a customer's true churn on, opens are 5 times rarer."""
CART_ABANDON_HOURS, CART_RECOVERY_DAYS = 24, 14
RECOVERY_CHANNEL_SHARE = {"email": 0.40, "push": 0.25, "sms": 0.10, "retargeting": 0.25}
RECOVERY_CHANNEL_RELATIVE = {"email": 1.0, "push": 0.7, "sms": 0.9, "retargeting": 1.4}
"""Recovery message channel of an abandoned cart (share) and its planted recovery rate relative to e-mail."""


def _messages_log(rng: np.random.Generator, events: pd.DataFrame, t_start: pd.Timestamp, obs_end: float,
                  buyer_ids: np.ndarray, t0: np.ndarray, alive_until: np.ndarray, death: np.ndarray, *,
                  exp_rng: np.random.Generator, cart_start: float,
                  morning: tuple[np.ndarray, np.ndarray], dropped: np.ndarray | None = None,
                  gone: np.ndarray | None = None, redraw_rng: np.random.Generator | None = None,
                  ) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any], pd.DataFrame]:
    """The message log, its planted truth (messages, carts) and the ``cart_recovery`` assignments.

    Draws only from ``rng``, and the cart experiment's arms from ``exp_rng``.

    Buyers get the ``newsletter`` (e-mail, every 14 days) and a ``promotion`` (push or SMS,
    every 30 days) from their first order to the end, at one of :data:`MESSAGE_SEND_HOURS`.
    Opens follow :data:`MESSAGE_OPEN_RATE`, multiplied by :data:`FATIGUE_OPEN_MULTIPLIER` from
    :data:`FATIGUE_DAYS_BEFORE_CHURN` days before a customer's true churn; clicks follow
    :data:`MESSAGE_CLICK_RATE` given an open. Every abandoned cart (an ``add_to_cart`` without a
    purchase within 24 hours) gets one ``cart_recovery`` message at the moment of abandonment; its
    channel is drawn so that the recovery rate (a purchase within 14 days) per channel is the
    planted one: the realised overall rate times :data:`RECOVERY_CHANNEL_RELATIVE`, normalised over
    :data:`RECOVERY_CHANNEL_SHARE` (the purchases themselves are those of the events table).

    **The cart-recovery experiment.** Each customer's first cart abandoned on or after ``cart_start``
    (the experiments' start) assigns the customer to experiment ``cart_recovery`` (``assigned_at`` = the
    abandonment), variant ``holdout`` (planned share ``s`` = :data:`CART_HOLDOUT_SHARE`) or ``message``.
    A held-out cart gets no message (its send, open and click are dropped after every draw). The
    purchases are those of the events table, so the arm is drawn given the cart's outcome: with ``r``
    the realised recovery rate of the experiment's carts followed for the whole window and ``rho`` =
    :data:`RECOVERY_HOLDOUT_RELATIVE`, the arms' rates are ``p_m = r / (s * rho + 1 - s)`` and
    ``p_h = rho * p_m``, and a cart is held out with probability ``P(holdout | recovered) =
    s * rho / (s * rho + 1 - s)`` (0.375 for ``s = 0.5, rho = 0.6``) and ``P(holdout | not recovered) =
    s * (1 - p_h) / (1 - r)``; then ``P(recovered | holdout) / P(recovered | message) = rho`` and the
    expected holdout share is ``s``. A messaged cart keeps the channel drawn as above. Carts abandoned
    within the window of the end use the same probabilities on their outcome so far.

    **The send-time test.** The ``morning`` arm of ``email_send_time`` (``morning``: its customers and
    assignment days) gets its newsletter at :data:`SEND_TIME_MORNING_HOUR` from its assignment on: a send
    at or after ``assigned_at`` moves to 09:00 (same minutes) of its day, or of the next day when that is
    before ``assigned_at``. Opens and clicks are the same draws, moved with their send (the hour has no
    effect). Customers whose assignment was lost (the planted SRM) keep their hours.

    **The channel holdout** (option; thinning): ``dropped`` flags the rows of ``events`` removed after every
    draw (the hidden touches, the rows of a lost conversion), ``gone`` the buyers whose conversion the holdout
    took away. Everything above is drawn on all the rows; then a lost buyer's newsletter and promotions go, and
    so does every cart at a dropped row or of a lost buyer, with its message. A lost buyer's ``add_to_cart``
    touches that stay are abandoned carts never recovered: their messages, and the arms of the customers whose
    first cart of the experiment changed, are drawn from ``redraw_rng`` with the same probabilities given the
    outcome. The planted rates are then the expectations given the outcomes of the carts in the data.
    """
    day = pd.Timedelta(days=1)
    ids, sends = [], []  # (customer index, time, campaign, channel)
    nb = len(buyer_ids)
    for campaign, every in (("newsletter", 14.0), ("promotion", 30.0)):
        first = t0 + rng.uniform(0, every, nb)
        k = np.maximum(np.ceil((obs_end - first) / every), 0).astype(int)
        who = np.repeat(np.arange(nb), k)
        pos = np.arange(len(who)) - np.repeat(np.cumsum(k) - k, k)
        t = np.floor(first[who] + pos * every)
        if campaign == "newsletter":
            chan = np.full(len(who), "email", dtype=object)
        else:
            chan = np.array(["push", "sms"], dtype=object)[(rng.random(nb) < 0.4).astype(int)][who]
        ids.append(who)
        sends.append(pd.DataFrame({"t": t, "campaign": campaign, "channel": chan}))
    send = pd.concat(sends, ignore_index=True)
    who = np.concatenate(ids)
    hour = np.array(MESSAGE_SEND_HOURS)[rng.integers(0, len(MESSAGE_SEND_HOURS), len(send))]
    send["t"] = send["t"].to_numpy() + hour / 24 + rng.uniform(0, 0.02, len(send))
    send["cid"] = buyer_ids[who]
    send["death"] = death[who]
    send["gone"] = np.zeros(len(send), dtype=bool) if gone is None else np.asarray(gone, dtype=bool)[who]

    # abandoned carts: the first purchase at or after each cart, from the events table (every row built,
    # the rows the channel holdout drops included: the draws are those without it; see below)
    t_of = lambda ts: (ts - t_start) / day  # noqa: E731
    carts = events.loc[events["event"] == "add_to_cart", ["customer_id", "ts"]].copy()
    carts["dropped"] = False if dropped is None else np.asarray(dropped, dtype=bool)[carts.index.to_numpy()]
    buys = events.loc[events["event"] == "purchase", ["customer_id", "ts"]].rename(columns={"ts": "ts_buy"})
    carts["t"] = t_of(carts["ts"]).to_numpy()
    buys["t"] = t_of(buys["ts_buy"]).to_numpy()
    nxt = pd.merge_asof(carts.sort_values("t"), buys.sort_values("t")[["customer_id", "t"]].assign(t_buy=lambda d: d["t"]),
                        on="t", by="customer_id", direction="forward")
    abandon = nxt["t"] + CART_ABANDON_HOURS / 24
    is_ab = (nxt["t_buy"].isna() | (nxt["t_buy"] > abandon)) & (abandon < obs_end)
    ab = nxt[is_ab].assign(t=abandon[is_ab]).reset_index(drop=True)
    recovered = (ab["t_buy"] - ab["t"] <= CART_RECOVERY_DAYS).to_numpy() & (ab["t_buy"] < obs_end).to_numpy()
    complete = (ab["t"] + CART_RECOVERY_DAYS <= obs_end).to_numpy()
    r = float(recovered[complete].mean()) if complete.any() else 0.0
    chans = list(RECOVERY_CHANNEL_SHARE)
    share = np.array([RECOVERY_CHANNEL_SHARE[c] for c in chans])
    rel = np.array([RECOVERY_CHANNEL_RELATIVE[c] for c in chans])
    p = np.clip(r * rel / float(share @ rel), 0.0, 1.0)
    p_if_rec = share * p / max(float(share @ p), 1e-12)
    p_if_not = share * (1 - p) / max(float(share @ (1 - p)), 1e-12)
    u = rng.random(len(ab))
    pick = np.where(recovered, np.searchsorted(np.cumsum(p_if_rec), u, side="right"),
                    np.searchsorted(np.cumsum(p_if_not), u, side="right"))
    pick = np.minimum(pick, len(chans) - 1)
    first, hold_exp, design = _cart_arms(exp_rng, ab, recovered, complete, cart_start)
    held = np.zeros(len(ab), dtype=bool)
    held[first[hold_exp]] = True

    # the channel holdout (option) thins the carts after every draw: a cart at a dropped row (a hidden touch, a
    # lost conversion's life) goes with its message; a lost conversion's add_to_cart touches that stay are
    # abandoned carts never recovered, their messages drawn from redraw_rng (channel given the outcome, as
    # above); a customer whose first cart of the experiment changed gets an arm from redraw_rng with the same
    # P(holdout | outcome). Every other cart keeps its draws.
    lost_ids = buyer_ids[:0] if gone is None else buyer_ids[np.asarray(gone, dtype=bool)]
    out = ab["dropped"].to_numpy(dtype=bool) | ab["customer_id"].isin(lost_ids).to_numpy()
    thinned = bool(out.any() or len(lost_ids))
    kept_idx = np.flatnonzero(~out)
    new = _lost_carts(events, dropped, lost_ids, t_of, obs_end) if thinned else \
        pd.DataFrame({"customer_id": np.array([], dtype=object), "t": np.array([], dtype=float)})
    nc = len(new)
    f_cid = np.concatenate([ab["customer_id"].to_numpy()[kept_idx], new["customer_id"].to_numpy()])
    f_t = np.concatenate([ab["t"].to_numpy()[kept_idx], new["t"].to_numpy()])
    f_y = np.concatenate([recovered[kept_idx], np.zeros(nc, dtype=bool)])
    f_comp = np.concatenate([complete[kept_idx], new["t"].to_numpy() + CART_RECOVERY_DAYS <= obs_end])
    if thinned:
        new_pick = np.minimum(np.searchsorted(np.cumsum(p_if_not), redraw_rng.random(nc), side="right"),
                              len(chans) - 1)
        new_open = np.array([MESSAGE_OPEN_RATE[("cart_recovery", chans[i])] for i in new_pick], dtype=float)
        new_opened = redraw_rng.random(nc) < new_open  # not customers: no fatigue (as every non-buyer's cart)
        new_t_open = new["t"].to_numpy() + redraw_rng.exponential(0.2, nc)
        new_clicked = new_opened & (redraw_rng.random(nc) < MESSAGE_CLICK_RATE["cart_recovery"])
        new_t_click = new_t_open + redraw_rng.exponential(0.01, nc)
        src = np.concatenate([kept_idx, np.full(nc, -1)])
        order = np.argsort(f_t, kind="stable")
        after = order[f_t[order] >= cart_start]
        f_first = after[~pd.Series(f_cid[after]).duplicated().to_numpy()]
        was_first = np.zeros(len(ab), dtype=bool)
        was_first[first] = True
        same = (src[f_first] >= 0) & was_first[np.maximum(src[f_first], 0)]
        f_hold = np.zeros(len(f_first), dtype=bool)
        f_hold[same] = held[src[f_first][same]]
        fresh = ~same
        f_hold[fresh] = redraw_rng.random(int(fresh.sum())) < np.where(f_y[f_first][fresh], design["h_rec"],
                                                                        design["h_not"])
        f_held = np.zeros(len(f_cid), dtype=bool)
        f_held[f_first] = f_hold
        held = np.zeros(len(ab), dtype=bool)
        held[kept_idx] = f_held[:len(kept_idx)]
        thin_note = {"carts_removed": int(out.sum()), "carts_added": int(nc), "arms_drawn_again": int(fresh.sum())}
    else:
        f_first, f_hold, f_held, thin_note = first, hold_exp, held, None
    cart_assign, truth_exp = _cart_truth(design, f_cid[f_first], f_t[f_first], f_y[f_first], f_comp[f_first],
                                         f_hold, cart_start, t_start, thin_note)
    rec_send = pd.DataFrame({"t": ab["t"].to_numpy(), "campaign": "cart_recovery",
                             "channel": np.array(chans, dtype=object)[pick], "cid": ab["customer_id"].to_numpy()})
    d_of = pd.Series(death, index=buyer_ids)
    rec_send["death"] = rec_send["cid"].map(d_of).fillna(np.inf).to_numpy()
    rec_send["held"] = held
    rec_send["gone"] = out
    send = pd.concat([send.assign(held=False), rec_send], ignore_index=True)
    send = send[send["t"] < obs_end].reset_index(drop=True)

    base = np.array([MESSAGE_OPEN_RATE[(c, h)] for c, h in zip(send["campaign"], send["channel"])])
    tired = send["t"].to_numpy() >= send["death"].to_numpy() - FATIGUE_DAYS_BEFORE_CHURN
    p_open = base * np.where(tired, FATIGUE_OPEN_MULTIPLIER, 1.0)
    opened = rng.random(len(send)) < p_open
    t_open = send["t"].to_numpy() + rng.exponential(0.2, len(send))
    p_click = send["campaign"].map(MESSAGE_CLICK_RATE).to_numpy(dtype=float)
    clicked = opened & (rng.random(len(send)) < p_click)
    t_click = t_open + rng.exponential(0.01, len(send))
    # the send-time test moves the morning arm's newsletter (after every draw: the draws stay the same)
    shift = _morning_shift(send, *morning)
    rows = [send.assign(t=send["t"].to_numpy() + shift, action="send"),
            send.assign(t=t_open + shift, action="open")[opened],
            send.assign(t=t_click + shift, action="click")[clicked]]
    if thinned:  # the messages at a lost conversion's carts (drawn above from redraw_rng)
        ns = pd.DataFrame({"t": new["t"].to_numpy(), "campaign": "cart_recovery",
                           "channel": np.array(chans, dtype=object)[new_pick], "cid": new["customer_id"].to_numpy(),
                           "held": f_held[len(kept_idx):], "gone": False})
        rows += [ns.assign(action="send"), ns.assign(t=new_t_open, action="open")[new_opened],
                 ns.assign(t=new_t_click, action="click")[new_clicked]]
    log = pd.concat(rows, ignore_index=True)
    log = log[(log["t"] < obs_end) & ~log["held"].to_numpy(dtype=bool) & ~log["gone"].to_numpy(dtype=bool)]
    log = pd.DataFrame({"customer_id": log["cid"].to_numpy(),
                        "ts": t_start + pd.to_timedelta(np.floor(log["t"].to_numpy() * 86400), unit="s"),
                        "campaign": log["campaign"].to_numpy(), "channel": log["channel"].to_numpy(),
                        "action": log["action"].to_numpy()})
    order = {"send": 0, "open": 1, "click": 2}
    log = log.assign(_o=log["action"].map(order)).sort_values(["customer_id", "ts", "_o", "campaign", "channel"],
                                                              kind="mergesort")
    log = log.drop(columns="_o").reset_index(drop=True)

    kept = ~send["held"].to_numpy(dtype=bool) & ~send["gone"].to_numpy(dtype=bool)
    cells = send.assign(p_open=p_open, p_click=p_open * p_click)[kept]
    if thinned:
        cells = pd.concat([cells[["campaign", "channel", "p_open", "p_click"]],
                           ns.assign(p_open=new_open, p_click=new_open * MESSAGE_CLICK_RATE["cart_recovery"])
                           [~ns["held"].to_numpy(dtype=bool)][["campaign", "channel", "p_open", "p_click"]]],
                          ignore_index=True)
    expected = cells.groupby(["campaign", "channel"])[["p_open", "p_click"]].mean()
    truth_messages = {
        "table": "messages: customer_id, ts, campaign, channel, action (send, open, click)",
        "random_stream": "its own (seed, 31): the other tables are those of the seed without messages",
        "open_rate_engaged": {f"{c}/{h}": v for (c, h), v in MESSAGE_OPEN_RATE.items()},
        "click_rate_given_open": MESSAGE_CLICK_RATE,
        "expected_open_rate": {f"{c}/{h}": float(v) for (c, h), v in expected["p_open"].items()},
        "expected_click_rate": {f"{c}/{h}": float(v) for (c, h), v in expected["p_click"].items()},
        "send_hours": list(MESSAGE_SEND_HOURS), "send_hour_effect": 0.0,
        "send_time_experiment": {
            "experiment": "email_send_time", "campaign": "newsletter", "variant": "morning",
            "hour": SEND_TIME_MORNING_HOUR,
            "moved": "the morning arm's newsletter sends at or after its assigned_at go out at 09:00 (same "
                     "minutes) of their day, or of the next day when that is before assigned_at; the control "
                     "and the customers whose assignment was lost keep their drawn hour; opens and clicks are "
                     "the same draws, moved with their send",
            "sends_moved": int(((shift != 0) & kept & (send["t"].to_numpy() + shift < obs_end)).sum()),
            "sends_moved_to_next_day": int(((shift > 0.5) & kept & (send["t"].to_numpy() + shift < obs_end)).sum()),
            "open_rate_effect": 0.0},
        "cadence_days": {"newsletter": 14, "promotion": 30},
        "fatigue": {"days_before_churn": FATIGUE_DAYS_BEFORE_CHURN, "open_multiplier": FATIGUE_OPEN_MULTIPLIER,
                    "note": "customers stop opening before they churn: no opens in the last sends predicts churn"},
    }
    truth_carts = {
        "abandon_window_hours": CART_ABANDON_HOURS, "recovery_days": CART_RECOVERY_DAYS,
        "abandoned": int(len(f_cid)), "followed_up": int(f_comp.sum()),
        "overall_recovery_rate": float(f_y[f_comp].mean()) if thinned and f_comp.any() else r,
        "channel_share": RECOVERY_CHANNEL_SHARE,
        # thinned: the expectation given the outcomes of the carts in the data (p is that of the carts drawn)
        "recovery_rate_by_channel": _messaged_rates(chans, p_if_rec, p_if_not, f_y & f_comp, ~f_y & f_comp,
                                                    np.zeros(len(f_cid), dtype=bool)) if thinned
        else {c: float(v) for c, v in zip(chans, p)},
        "recovery_rate_by_channel_messaged": _messaged_rates(chans, p_if_rec, p_if_not, f_y & f_comp,
                                                             ~f_y & f_comp, f_held),
        "definition": "an add_to_cart without a purchase within 24 hours is abandoned at 24 hours; it is "
                      "recovered by a purchase within 14 days after; one cart_recovery message goes out at "
                      "abandonment (not for the holdout carts of the cart_recovery experiment); rates are over "
                      "carts followed up for the full 14 days",
        "channel_rates_note": "recovery_rate_by_channel is the planted rate per channel had every cart been "
                              "messaged; recovery_rate_by_channel_messaged the expected rate over the carts "
                              "that got a message (the experiment's holdout takes out more unrecovered carts)",
        "cart_value": "carts carry no value in the sample (revenue is on purchases only)",
        "experiment": truth_exp,
    }
    if thinned:
        truth_carts["channel_holdout_note"] = (
            "the channel holdout removed carts after the channels were drawn (a hidden touch's, a lost "
            "conversion's) and added a lost conversion's carts that stay (never recovered, channels drawn "
            "from stream (seed, 45) given that outcome): the rates are the expectations given the outcomes "
            "of the carts in the data; overall_recovery_rate is their realised rate")
    return log, truth_messages, truth_carts, cart_assign


def _messaged_rates(chans, p_if_rec, p_if_not, rec, notrec, held) -> dict[str, float]:
    """Expected recovery rate per channel over the messaged carts followed up (given the carts' outcomes).

    A cart's channel is drawn with ``p_if_rec`` / ``p_if_not`` given its outcome, independently of its arm.
    """
    n1, n0 = float((rec & ~held).sum()), float((notrec & ~held).sum())
    out = {}
    for c, q1, q0 in zip(chans, p_if_rec, p_if_not):
        den = q1 * n1 + q0 * n0
        out[c] = float(q1 * n1 / den) if den > 0 else None
    return out


def _lost_carts(events: pd.DataFrame, dropped, lost_ids, t_of, obs_end: float) -> pd.DataFrame:
    """The abandoned carts of the customers whose conversion the channel holdout took away (``customer_id, t``).

    Their ``add_to_cart`` touches that stay (pre-purchase touches they saw) are never followed by a purchase:
    each is abandoned 24 hours later (when that is before the end), in time order.
    """
    keep = ~np.asarray(dropped, dtype=bool) if dropped is not None else np.ones(len(events), dtype=bool)
    m = keep & (events["event"] == "add_to_cart").to_numpy() & events["customer_id"].isin(lost_ids).to_numpy()
    c = pd.DataFrame({"customer_id": events["customer_id"].to_numpy()[m],
                      "t": t_of(events["ts"][m]).to_numpy() + CART_ABANDON_HOURS / 24})
    c = c[c["t"] < obs_end]
    return c.sort_values(["t", "customer_id"], kind="mergesort").reset_index(drop=True)


def _cart_arms(rng, ab, recovered, complete, start):
    """The ``cart_recovery`` experiment's arms (see :func:`_messages_log`): the first carts (indices into ``ab``),
    whether each is held out, and the design (``h_rec``, ``h_not``: P(holdout | outcome); ``p_msg``, ``p_hold``)."""
    t = ab["t"].to_numpy()
    after = np.flatnonzero(t >= start)
    first = after[~pd.Series(ab["customer_id"].to_numpy()[after]).duplicated().to_numpy()]
    y, comp = recovered[first], complete[first]
    s, rho = CART_HOLDOUT_SHARE, RECOVERY_HOLDOUT_RELATIVE
    r = float(y[comp].mean()) if comp.any() else 0.0
    p_msg = r / (s * rho + 1 - s)
    p_hold = rho * p_msg
    h_rec = s * rho / (s * rho + 1 - s)
    h_not = min(s * (1 - p_hold) / (1 - r), 1.0) if r < 1 else s
    hold_exp = rng.random(len(first)) < np.where(y, h_rec, h_not)
    return first, hold_exp, {"p_msg": p_msg, "p_hold": p_hold, "h_rec": h_rec, "h_not": h_not}


def _cart_truth(design, cids, t, y, comp, hold_exp, start, t_start, thinned=None):
    """The ``cart_recovery`` assignments (``customer_id, experiment, variant, t``) of the experiment's first carts
    (``cids, t``, outcome ``y``, followed ``comp``, held out ``hold_exp``) and ``ground_truth["carts"]["experiment"]``.

    ``thinned`` (the channel holdout's counts): the carts are no longer those the design was drawn on, so the
    arms' expected rates are computed from the outcomes of these carts and the P(holdout | outcome) used.
    """
    s, rho = CART_HOLDOUT_SHARE, RECOVERY_HOLDOUT_RELATIVE
    h_rec, h_not = design["h_rec"], design["h_not"]
    if thinned is None:
        p_msg, p_hold, rel = design["p_msg"], design["p_hold"], rho - 1
    else:
        k1, k0 = float((y & comp).sum()), float((~y & comp).sum())
        p_hold = h_rec * k1 / (h_rec * k1 + h_not * k0) if h_rec * k1 + h_not * k0 > 0 else 0.0
        p_msg = (1 - h_rec) * k1 / ((1 - h_rec) * k1 + (1 - h_not) * k0) if (1 - h_rec) * k1 + (1 - h_not) * k0 > 0 \
            else 0.0
        rel = p_hold / p_msg - 1 if p_msg > 0 else None
    assign = pd.DataFrame({"customer_id": cids, "experiment": "cart_recovery",
                           "variant": np.where(hold_exp, "holdout", "message"), "t": t})
    arms = {"holdout": hold_exp, "message": ~hold_exp}
    n = {a: int((m & comp).sum()) for a, m in arms.items()}
    k = {a: int((m & comp & y).sum()) for a, m in arms.items()}
    real = {a: (k[a] / n[a] if n[a] else None) for a in arms}
    truth = {
        "experiment": "cart_recovery", "variants": ["holdout", "message"],
        "planned_split": {"holdout": s, "message": 1 - s},
        "start": str(t_start + pd.Timedelta(days=float(start))),
        "entry": "each customer's first cart abandoned on or after the start (assigned_at = the abandonment)",
        "window_days": CART_RECOVERY_DAYS,
        "holdout_relative_recovery": rho,
        "recovery_rate": {"holdout": p_hold, "message": p_msg},
        "absolute_effect": p_msg - p_hold, "relative_effect": rel,
        "p_holdout_given_recovered": h_rec, "p_holdout_given_not_recovered": h_not,
        "carts": int(len(cids)), "followed_up": n, "recovered": k, "realised_recovery_rate": real,
        "note": "recovery_rate is the expectation given the carts' outcomes (over the experiment's carts followed "
                "for the whole window); realised_recovery_rate what the drawn arms give",
    }
    if thinned is not None:
        truth["channel_holdout"] = {
            **thinned,
            "note": "the channel holdout removed carts after the arms were drawn and a lost conversion's carts "
                    "that stay joined (arms drawn from stream (seed, 45) with the same P(holdout | outcome)): "
                    "recovery_rate is the expectation given the outcomes of the carts in the data, "
                    "p_holdout_given_recovered * K / (p_holdout_given_recovered * K + "
                    "p_holdout_given_not_recovered * (N - K)) for the holdout over N followed carts of which K "
                    "recovered; its ratio to the message's is close to holdout_relative_recovery, not exactly it"}
    return assign, truth


def _morning_shift(send: pd.DataFrame, cids: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Days to add to each send: the ``morning`` arm's newsletter at :data:`SEND_TIME_MORNING_HOUR` from ``at`` on."""
    at_of = pd.Series(np.asarray(at, dtype=float), index=np.asarray(cids))
    a = send["cid"].map(at_of).to_numpy(dtype=float)
    t = send["t"].to_numpy()
    moved = (send["campaign"].to_numpy() == "newsletter") & ~np.isnan(a) & (t >= np.nan_to_num(a, nan=np.inf))
    day = np.floor(t)
    minutes = (t - day) - np.floor((t - day) * 24) / 24  # the jitter after the drawn hour (under an hour)
    new = day + SEND_TIME_MORNING_HOUR / 24 + minutes
    new = np.where(new < a, new + 1, new)
    return np.where(moved, new - t, 0.0)


def _group_cumsum(x: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    c = np.cumsum(x)
    starts = np.cumsum(sizes) - sizes
    return c - np.repeat(c[starts] - x[starts], sizes)


def _spend(rng: np.random.Generator, p: float, nu: np.ndarray) -> np.ndarray:
    return np.round(rng.gamma(p, 1 / nu), 2)


def _events(cid, t, event, channel, stage, revenue) -> pd.DataFrame:
    k = len(t)
    full = lambda v, dtype=object: np.full(k, v, dtype=dtype) if v is None or np.isscalar(v) else np.asarray(v)
    return pd.DataFrame({
        "customer_id": cid, "t": t, "event": full(event), "channel": full(channel), "stage": full(stage),
        "revenue": full(np.nan, float) if revenue is None else revenue,
    })


def _assign(rng, buyer_ids, eligible, exp_start, lost_share):
    rows, t_assign = [], exp_start + rng.uniform(0, 7, len(eligible))
    treated = np.zeros(len(buyer_ids), dtype=bool)
    at = np.full(len(buyer_ids), np.nan)
    at[eligible] = t_assign
    arm = rng.integers(0, 2, len(eligible))
    treated[eligible[arm == 1]] = True
    rows.append(pd.DataFrame({"customer_id": buyer_ids[eligible], "experiment": "personalised_offer",
                              "variant": np.array(["control", "treatment"])[arm], "t": t_assign}))
    video = rng.integers(0, 3, len(eligible))
    rows.append(pd.DataFrame({"customer_id": buyer_ids[eligible], "experiment": "homepage_video",
                              "variant": np.array(["control", "video_a", "video_b"])[video], "t": t_assign}))
    send = rng.integers(0, 2, len(eligible))
    kept = (send == 0) | (rng.random(len(eligible)) >= lost_share)
    rows.append(pd.DataFrame({"customer_id": buyer_ids[eligible][kept], "experiment": "email_send_time",
                              "variant": np.array(["control", "morning"])[send[kept]], "t": t_assign[kept]}))
    return pd.concat(rows, ignore_index=True), treated, at


def _integrated_rate(lam, join, mult, lo, hi):
    """Integral of lam * (mult after join) over [lo, hi] (0 when hi <= lo)."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    length = np.clip(hi - lo, 0, None)
    after = np.clip(hi - np.maximum(lo, join), 0, None)
    after = np.minimum(after, length)
    return lam * (length - after + mult * after)


def simulate_to_parquet(folder: str | Path, n_customers: int, *, seed: int = 42,
                        chunk_customers: int = 200_000, progress: bool = True, overwrite: bool = False,
                        channel_holdout: str | None = None, channel_holdout_share: float = 0.5) -> Path:
    """Simulate a large dataset in chunks, writing Parquet partitioned by month.

    Each chunk of ``chunk_customers`` customers is an independent simulation (seed
    ``seed + chunk``, ids continuing), so memory stays bounded whatever the size:
    ``events/month=YYYY-MM/part-NNNN.parquet``, ``customers/part-NNNN.parquet``,
    ``assignments/part-NNNN.parquet``, ``feedback/part-NNNN.parquet`` and the first chunk's
    ``ground_truth.json``.
    About 11 events per customer: 9 million customers give 10^8 events. A folder that
    already holds data files is refused (:func:`refuse_overwrite`) unless ``overwrite=True``.

    Parameters
    ----------
    folder
        Where to write (created when missing).
    n_customers
        Customers in total.
    seed
        Random seed of the first chunk (chunk ``k`` uses ``seed + k``).
    chunk_customers
        Customers per chunk (bounds the memory used).
    progress
        Print a line per chunk.
    overwrite
        Replace data files already in ``folder``.
    channel_holdout, channel_holdout_share
        A channel held out of a share of the customers (off by default), as in :func:`simulate_journeys`.

    Returns
    -------
    pathlib.Path
        ``folder``, readable with :func:`journeylib.simulate.datasets.load_dataset`.

    Examples
    --------
    >>> import tempfile
    >>> import journeylib as jl
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = jl.simulate_to_parquet(tmp, 300, chunk_customers=200, progress=False)
    ...     sorted(p.name for p in (folder / "customers").iterdir())
    ['part-0000.parquet', 'part-0001.parquet']
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    whole_number(n_customers, "n_customers", minimum=1, expected="a whole number of customers, at least 1")
    _check_channel_holdout(channel_holdout, channel_holdout_share)
    folder = Path(folder)
    refuse_overwrite(folder, overwrite)
    (folder / "customers").mkdir(parents=True, exist_ok=True)
    (folder / "assignments").mkdir(parents=True, exist_ok=True)
    n_chunks = -(-int(n_customers) // chunk_customers)
    total = 0
    for k in range(n_chunks):
        n = min(chunk_customers, int(n_customers) - k * chunk_customers)
        data = simulate_journeys(n, seed=seed + k, id_offset=k * chunk_customers, channel_holdout=channel_holdout,
                                 channel_holdout_share=channel_holdout_share)
        ev = data.events.assign(month=data.events["ts"].dt.strftime("%Y-%m"))
        for month, part in ev.groupby("month", sort=True):
            out = folder / "events" / f"month={month}"
            out.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pandas(part.drop(columns="month"), preserve_index=False)
            pq.write_table(table, out / f"part-{k:04d}.parquet", coerce_timestamps="us",
                           allow_truncated_timestamps=True)
        for name in ("customers", "assignments", "feedback", "messages", "costs"):
            (folder / name).mkdir(parents=True, exist_ok=True)
            getattr(data, name).to_parquet(folder / name / f"part-{k:04d}.parquet", index=False,
                                           coerce_timestamps="us", allow_truncated_timestamps=True)
        if k == 0:
            (folder / "ground_truth.json").write_text(json.dumps(data.ground_truth, indent=2, default=str))
            (folder / "journey.yml").write_text(journey_yml("events/*/*.parquet", "customers/*.parquet",
                                                            "assignments/*.parquet", "feedback/*.parquet",
                                                            "messages/*.parquet", "costs/*.parquet"))
        total += len(data.events)
        if progress:
            print(f"  chunk {k + 1}/{n_chunks}: {total:,} events so far", flush=True)
    return folder


# --------------------------------------------------------------------------- competing exits
EXIT_HAZARDS: dict[str, dict[str, float]] = {
    "standard": {"churn": 1 / 300, "downgrade": 1 / 600},
    "premium": {"churn": 1 / 600, "downgrade": 1 / 400},
}
"""Planted exit hazards per day, per segment (constant: competing exponential lifetimes)."""


@dataclass(frozen=True)
class SimulatedExits:
    """Output of :func:`simulate_exits`: one row per customer and the planted hazards.

    ``table``: ``customer_id, segment, duration`` (days from the start to the exit or to
    the end of observation), ``exit_type`` (the exit's name, ``None`` when censored).
    ``ground_truth["exits"]``: ``hazards`` (per segment and exit type, per day),
    ``segment_share``, ``follow_up_days`` (min, max).

    Attributes
    ----------
    table
        One row per customer (columns above).
    ground_truth
        The planted hazards and design.

    Examples
    --------
    >>> import journeylib as jl
    >>> exits = jl.simulate_exits(500, seed=1)
    >>> exits.table.shape, exits.ground_truth["exits"]["exit_types"]
    ((500, 4), ['churn', 'downgrade'])
    """

    table: pd.DataFrame
    ground_truth: dict[str, Any]


def simulate_exits(
    n_customers: int = 5000,
    seed: int = 42,
    *,
    hazards: dict[str, dict[str, float]] | None = None,
    segment_share: dict[str, float] | None = None,
    follow_up_days: tuple[float, float] = (180.0, 545.0),
) -> SimulatedExits:
    """Customers who leave in one of several ways (churn, downgrade, ...), with known hazards.

    Each customer of segment ``g`` has a latent time to every exit type ``k``,
    Exponential with rate ``hazards[g][k]`` per day; the first one is the exit. Customers
    start over a year and are watched until a common end, so the follow-up is uniform on
    ``follow_up_days``; a customer still there at the end is censored (``exit_type``
    None). The cumulative incidence of exit ``k`` by day ``t`` is then, in closed form,
    ``lambda_k / Lambda * (1 - exp(-Lambda * t))`` with ``Lambda`` the sum of the
    segment's rates.

    A random stream of its own (``seed``): :func:`simulate_journeys` is not touched, so
    its output for a seed stays the same.

    Parameters
    ----------
    n_customers
        Number of customers.
    seed
        Random seed.
    hazards
        ``{segment: {exit_type: rate per day}}`` (default :data:`EXIT_HAZARDS`).
    segment_share
        Share of customers per segment (default equal).
    follow_up_days
        ``(min, max)`` of the uniform follow-up, in days.

    Returns
    -------
    SimulatedExits
        The customers' durations and exits, and the planted hazards.

    Examples
    --------
    >>> import journeylib as jl
    >>> exits = jl.simulate_exits(500, seed=1)
    >>> list(exits.table.columns)
    ['customer_id', 'segment', 'duration', 'exit_type']
    >>> exits.table["exit_type"].value_counts(dropna=False).to_dict()
    {'churn': 199, 'downgrade': 190, None: 111}
    """
    whole_number(n_customers, "n_customers", minimum=1, expected="a whole number of customers, at least 1")
    hazards = {g: dict(h) for g, h in (hazards or EXIT_HAZARDS).items()}
    types = sorted({k for h in hazards.values() for k in h})
    groups = list(hazards)
    share = dict(segment_share or {g: 1 / len(groups) for g in groups})
    p = np.array([share[g] for g in groups], float)
    rng = np.random.default_rng([seed, 29])  # its own stream
    seg = rng.choice(len(groups), n_customers, p=p / p.sum())
    rates = np.array([[hazards[g].get(k, 0.0) for k in types] for g in groups])[seg]
    with np.errstate(divide="ignore"):
        latent = rng.exponential(1.0, (n_customers, len(types))) / rates
    first = latent.argmin(axis=1)
    t_exit = latent[np.arange(n_customers), first]
    censor = rng.uniform(*follow_up_days, n_customers)
    exited = t_exit <= censor
    table = pd.DataFrame({
        "customer_id": [f"x{i:06d}" for i in range(1, n_customers + 1)],
        "segment": np.array(groups, dtype=object)[seg],
        "duration": np.where(exited, t_exit, censor),
        "exit_type": np.where(exited, np.array(types, dtype=object)[first], None),
    })
    truth = {"exits": {"hazards": hazards, "segment_share": {g: float(v) for g, v in zip(groups, p / p.sum())},
                       "follow_up_days": [float(v) for v in follow_up_days], "exit_types": types}}
    return SimulatedExits(table, truth)
