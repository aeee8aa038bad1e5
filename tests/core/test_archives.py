"""Zipped exports: a ``.zip`` on a source's path is read as the folder it unpacks to.

Each test compares what the kit reads through the archive with what it reads from the same
files unpacked by hand, and checks that the archive is left as it was.
"""
from __future__ import annotations

import datetime
import gzip
import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import draft, engine
from journeylib.report import cli

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
KEYS = ["customer_id", "ts", "event"]


def _zip(archive: Path, files: dict[str, bytes]) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2025, 3, 1, 12, 0, 0)), data)
    return archive


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frame(t) -> pd.DataFrame:
    return t.to_pandas().sort_values(KEYS + ["revenue"]).reset_index(drop=True)


def test_a_journey_reads_tables_inside_an_archive(tmp_path):
    """``export.zip/events.parquet`` and its siblings load exactly as the files themselves, with the
    archive's path (not the temporary folder) as the source the health panel names."""
    names = ["events", "customers", "assignments", "messages", "feedback", "costs"]
    archive = _zip(tmp_path / "export.zip", {f"shop/{n}.parquet": (SAMPLE / f"{n}.parquet").read_bytes()
                                             for n in names})
    before = _digest(archive)
    defn = (SAMPLE / "journey.yml").read_text()
    for n in names:
        defn = defn.replace(f"path: {n}.parquet", f"path: export.zip/shop/{n}.parquet")
    (tmp_path / "journey.yml").write_text(defn)
    zipped = jl.load_journey(tmp_path / "journey.yml")
    plain = jl.load_journey(SAMPLE / "journey.yml")
    pd.testing.assert_frame_equal(_frame(zipped.events), _frame(plain.events))
    assert zipped.customers.count().execute() == plain.customers.count().execute() == 5000
    assert zipped.messages.count().execute() == plain.messages.count().execute()
    shown = {r.table: r for r in zipped.inputs}
    assert shown["events"].source.endswith("export.zip/shop/events.parquet")
    assert not any("journeylib-zip" in r.source for r in zipped.inputs)
    assert shown["events"].sha256 == {r.table: r for r in plain.inputs}["events"].sha256  # the same bytes
    assert _digest(archive) == before


def test_init_on_an_archive_of_an_orders_export(tmp_path):
    """A zipped orders export (orders.csv and messages.csv): init names both through the archive, and the
    journey loads the same purchases and messages as from the unpacked folder."""
    src = FIX / "exports" / "orders"
    archive = _zip(tmp_path / "shop_export.zip", {n: (src / n).read_bytes() for n in ("orders.csv", "messages.csv")})
    before = _digest(archive)
    assert cli.main(["init", str(archive)]) == 0
    text = (tmp_path / "journey.yml").read_text()
    assert "path: shop_export.zip/orders.csv" in text and "path: shop_export.zip/messages.csv" in text
    assert "journeylib-zip" not in text
    unpacked = tmp_path / "unpacked"
    shutil.copytree(src, unpacked)
    assert cli.main(["init", str(unpacked)]) == 0
    a, b = jl.load_journey(tmp_path / "journey.yml"), jl.load_journey(unpacked / "journey.yml")
    pd.testing.assert_frame_equal(_frame(a.events), _frame(b.events))
    assert len(a.events.to_pandas()) == 7 and a.messages is not None
    assert _digest(archive) == before


def test_init_on_a_zipped_amplitude_export(tmp_path):
    """Amplitude's export API sends a zip of one folder of hourly gzipped JSON files: init detects the format
    inside and the journey reads every file, as from the folder."""
    lines = (FIX / "exports" / "amplitude_export.json").read_bytes().splitlines(keepends=True)
    files = {"187520/187520_2025-01-05_12#0.json.gz": gzip.compress(b"".join(lines[:2])),
             "187520/187520_2025-01-05_13#0.json.gz": gzip.compress(b"".join(lines[2:]))}
    archive = _zip(tmp_path / "amplitude.zip", files)
    d = draft.write_draft(archive)
    assert d.profile.format == "amplitude" and "path: \"amplitude.zip/187520/*.gz\"" in d.text
    zipped = jl.load_journey(d.path).events.to_pandas()
    whole = jl.read_export("amplitude", FIX / "exports" / "amplitude_export.json")["events"].to_pandas()
    assert len(zipped) == len(lines) == len(whole)
    assert sorted(zipped["event"]) == sorted(whole["event"])


def test_init_on_an_archive_of_a_folder_finds_its_tables(tmp_path, capsys):
    """A folder zipped with its own folder inside (export/events.csv, export/customers.csv): init names the
    tables inside it, where it had stacked every CSV as the event log (DuckDB's schema error, raw). Files that
    are several tables under other names stop with a journeylib error that says which to name events.*."""
    shop = (FIX / "journeys" / "shop" / "events.csv").read_bytes()
    archive = _zip(tmp_path / "shop.zip", {"export/events.csv": shop,
                                           "export/customers.csv": b"user_id,segment\nu001,a\nu002,b\n"})
    d = draft.write_draft(archive)
    assert "path: shop.zip/export/events.csv" in d.text and "path: shop.zip/export/customers.csv" in d.text
    assert len(jl.load_journey(d.path).events.to_pandas()) == 272
    _zip(tmp_path / "other" / "shop.zip", {"export/clicks.csv": shop, "export/people.csv": b"user_id,segment\nu1,a\n"})
    assert cli.main(["init", str(tmp_path / "other" / "shop.zip")]) != 0
    err = capsys.readouterr().err
    assert "holds several tables and none named events.*" in err and "Traceback" not in err


def test_a_zip_path_outside_init_reads_as_its_folder(tmp_path):
    """The loaders take an archive as a folder of partitions, keep the members' times (the validation cache
    fingerprints size and modification time), and skip macOS's resource forks."""
    ev = pd.read_parquet(SAMPLE / "events.parquet")
    parts = {f"events/part-{i}.csv": ev.iloc[i::2].to_csv(index=False).encode() for i in range(2)}
    parts["__MACOSX/events/._part-0.csv"] = b"\x00\x05\x16\x07 not a csv"
    archive = _zip(tmp_path / "events.zip", parts)
    got = jl.load_events(archive).to_pandas()
    assert len(got) == len(ev) and got["revenue"].sum() == pytest.approx(ev["revenue"].sum())
    inside = Path(engine.unzipped_path(str(archive / "events" / "part-0.csv")))
    assert inside.is_file() and datetime.datetime.fromtimestamp(inside.stat().st_mtime) == \
        datetime.datetime(2025, 3, 1, 12, 0, 0)
    assert not any("MACOSX" in p for p in os.listdir(inside.parents[1]))


def test_load_dataset_reads_a_zipped_folder_as_the_folder(tmp_path):
    """``load_dataset("export.zip")``: the archive of a dataset folder (its tables at the top, or in the one folder
    that Finder or Explorer zips a folder with, beside __MACOSX) loads as the unpacked files do, ground truth too."""
    names = ["events", "customers", "assignments", "messages", "feedback", "costs", "ground_truth"]
    files = {n: (SAMPLE / f"{n}.{'json' if n == 'ground_truth' else 'parquet'}").read_bytes() for n in names}
    plain = jl.load_dataset(SAMPLE)
    flat = _zip(tmp_path / "flat.zip", {f"{n}.{'json' if n == 'ground_truth' else 'parquet'}": b
                                        for n, b in files.items()})
    nested = _zip(tmp_path / "nested.zip", {**{f"shop/{n}.{'json' if n == 'ground_truth' else 'parquet'}": b
                                               for n, b in files.items()},
                                            "__MACOSX/shop/._events.parquet": b"\x00\x05\x16\x07"})
    for archive, inner in ((flat, "flat.zip"), (nested, "nested.zip/shop")):
        before = _digest(archive)
        ds = jl.load_dataset(archive)
        pd.testing.assert_frame_equal(_frame(ds.events), _frame(plain.events))
        assert ds.costs.count().execute() == plain.costs.count().execute()
        assert ds.ground_truth == plain.ground_truth
        assert {r.table: r.source for r in ds.inputs}["events"].endswith(f"{inner}/events.parquet")
        assert _digest(archive) == before


def test_archives_that_cannot_be_read_say_why(tmp_path, capsys):
    """A file that is no zip, a password-protected member and a path missing inside the archive: each is a
    JourneyDataError naming the archive and what to do, never zipfile's own error."""
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(jl.JourneyDataError, match=r"(?s)broken\.zip is not a readable \.zip archive .*unpack it"):
        jl.load_events(tmp_path / "broken.zip")
    raw = bytearray(_zip(tmp_path / "locked.zip", {"events.csv": b"customer_id,ts,event\n"}).read_bytes())
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the bit a password-protected member carries
        raw[raw.index(sig) + at] |= 0x1
    (tmp_path / "locked.zip").write_bytes(bytes(raw))
    with pytest.raises(jl.JourneyDataError, match=r"(?s)locked\.zip: events\.csv in it is encrypted .*password"):
        jl.load_events(tmp_path / "locked.zip")
    _zip(tmp_path / "export.zip", {"events.csv": b"customer_id,ts,event\nc1,2025-01-05,landing\n"})
    with pytest.raises(jl.JourneyDataError, match=r"file not found: .*export\.zip/orders\.csv"):
        jl.load_events(tmp_path / "export.zip" / "orders.csv")
    _zip(tmp_path / "two" / "a.zip", {"events.csv": b"customer_id,ts,event\nc1,2025-01-05,landing\n"})
    shutil.copy(tmp_path / "two" / "a.zip", tmp_path / "two" / "b.zip")
    with pytest.raises(jl.JourneyDataError, match=r"(?s)unsupported file type '\.zip'.*unpack the archives into one folder"):
        jl.load_events(str(tmp_path / "two" / "*.zip"))
    _zip(tmp_path / "notes" / "notes.zip", {"readme.txt": b""})
    assert cli.main(["init", str(tmp_path / "notes" / "notes.zip")]) != 0
    err = capsys.readouterr().err
    assert "notes.zip/readme.txt" in err and "Traceback" not in err
