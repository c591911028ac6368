"""The synthetic batches: realistic, reproducible, and truthful about which rows are bad."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import available_timezones

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from followup import samples
from followup.samples import ATS_HEADERS, COLUMNS, FAULTS, ensure_sample, generate_batch, write_batch

NOW = datetime(2026, 3, 24, 15, 30, tzinfo=UTC)  # five days before Europe's switch to summer time
TRUTH = ["_bad", "_fault"]


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    return generate_batch(20_000, seed=11, bad_share=0.05, channel_mix=(0.5, 0.3, 0.2), now=NOW)


def test_same_seed_same_batch_other_seed_other_batch():
    first = generate_batch(500, seed=3, now=NOW)
    pd.testing.assert_frame_equal(first, generate_batch(500, seed=3, now=NOW))
    assert not first.equals(generate_batch(500, seed=4, now=NOW))


def test_channels_follow_the_mix(batch):
    shares = batch["channel"].value_counts(normalize=True)
    assert shares["email"] == pytest.approx(0.5, abs=0.02)
    assert shares["voicemail"] == pytest.approx(0.3, abs=0.02)
    assert shares["in_person"] == pytest.approx(0.2, abs=0.02)


def test_about_a_third_are_offers(batch):
    good = batch[~batch["_bad"]]
    assert (good["decision"] == "offer").mean() == pytest.approx(0.30, abs=0.02)
    assert set(good["decision"]) == {"offer", "reject"}


def test_bad_share_is_kept_and_every_fault_occurs(batch):
    assert batch["_bad"].mean() == pytest.approx(0.05, abs=0.001)
    assert set(batch.loc[batch["_bad"], "_fault"]) == set(FAULTS)
    assert (batch.loc[~batch["_bad"], "_fault"] == "").all()
    counts = batch.loc[batch["_bad"], "_fault"].value_counts()
    assert counts.max() - counts.min() <= 1  # spread evenly, not all one kind


_KNOWN_CURRENCIES = {"USD", "GBP", "EUR", "INR", "JPY", "BRL", "CAD", "AUD", "PLN", "SEK", "NGN", "MXN", "KRW"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _faults_found(frame: pd.DataFrame) -> pd.DataFrame:
    """Each fault as an independent check would see it, one boolean column per fault."""
    def unparseable(column: str) -> pd.Series:
        parsed = pd.to_datetime(frame[column], format="ISO8601", errors="coerce", utc=True)
        return (frame[column] != "") & parsed.isna()

    decided = pd.to_datetime(frame["decided_at"], format="ISO8601", errors="coerce", utc=True)
    deadline = pd.to_datetime(frame["offer_deadline"], format="ISO8601", errors="coerce", utc=True)
    salary_min = pd.to_numeric(frame["salary_min"], errors="coerce")
    salary_max = pd.to_numeric(frame["salary_max"], errors="coerce")
    return pd.DataFrame({
        "malformed_email": ~frame["email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
        "bad_decision": ~frame["decision"].isin(["offer", "reject"]),
        "voicemail_without_phone": (frame["channel"] == "voicemail") & (frame["phone"] == ""),
        "salary_inverted": salary_min > salary_max,
        "unknown_currency": (frame["currency"] != "") & ~frame["currency"].isin(_KNOWN_CURRENCIES),
        "unknown_timezone": ~frame["timezone"].isin(available_timezones()),
        "unparseable_date": unparseable("decided_at") | unparseable("offer_deadline")
        | unparseable("start_date") | unparseable("meeting_at"),
        "deadline_before_decision": deadline.dt.date < decided.dt.date,
        "duplicate_candidate_id": frame["candidate_id"].duplicated(keep="first"),
        "control_character": frame[["first_name", "last_name", "notes", "reasons", "interests"]]
        .apply(lambda column: column.str.contains(_CONTROL)).any(axis=1),
    })


def test_every_bad_row_has_exactly_its_named_fault_and_good_rows_none(batch):
    found = _faults_found(batch)
    assert list(found.columns) == list(FAULTS)
    named = pd.DataFrame({fault: batch["_fault"] == fault for fault in FAULTS})
    mismatched = batch.index[(found != named).any(axis=1)]
    assert mismatched.empty, batch.loc[mismatched[:5], ["candidate_id", "_fault"]]


def test_phones_on_good_voicemail_rows_are_valid_numbers_of_the_rows_country(batch):
    voicemail = batch[~batch["_bad"] & (batch["channel"] == "voicemail")]
    assert (voicemail["phone"] != "").all()
    national = ~voicemail["phone"].str.startswith("+")
    assert 0.1 < national.mean() < 0.3  # mostly international, some national formats
    for phone, country in voicemail[["phone", "country"]].sample(600, random_state=0).itertuples(index=False):
        number = phonenumbers.parse(phone, country)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.region_code_for_number(number) == country, (phone, country)


def test_recruiter_phones_are_valid(batch):
    for phone in batch["recruiter_phone"].unique():
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone, None)), phone


def test_zones_currencies_and_locales_agree_with_the_country(batch):
    good = batch[~batch["_bad"]]
    assert (good.groupby("timezone")["country"].nunique() == 1).all()
    salaried = good[good["currency"] != ""]
    assert (salaried.groupby("country")["currency"].nunique() == 1).all()
    assert (good["locale"].str[-2:] == good["country"]).all()


def test_names_are_international(batch):
    first, last = batch["first_name"], batch["last_name"]
    names = first + " " + last
    assert names.str.contains("'").any()  # O'Brien
    assert last.str.contains("-").any()
    assert names.str.contains(r"[À-ÿĀ-ž]").any()  # accents
    assert names.str.contains(r"[\u0370-\u03ff\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]").any()  # Greek, CJK, Hangul
    good_emails = batch.loc[~batch["_bad"], "email"]
    assert good_emails.str.isascii().all()
    domains = good_emails.str.split("@").str[1]
    assert (domains != domains.str.lower()).any()  # mixed-case domains occur
    assert batch["candidate_id"].str.fullmatch(r"C-\d{6,}").all()


def test_dates_fall_around_now(batch):
    good = batch[~batch["_bad"]]
    decided = pd.to_datetime(good["decided_at"], format="ISO8601", utc=True)
    assert decided.lt(NOW).all() and decided.gt(NOW - timedelta(days=7)).all()
    offers = good[good["decision"] == "offer"]
    assert (offers[["offer_deadline", "start_date", "salary_min", "salary_max", "currency"]] != "").all().all()
    assert pd.to_datetime(offers["start_date"]).dt.day_of_week.eq(0).all()  # starts on a Monday
    rejects = good[good["decision"] == "reject"]
    assert (rejects[["offer_deadline", "start_date", "salary_min"]] == "").all().all()
    in_person = good["channel"] == "in_person"
    assert (good.loc[in_person, ["meeting_at", "meeting_location"]] != "").all().all()
    assert (good.loc[~in_person, ["meeting_at", "meeting_location"]] == "").all().all()
    meetings = pd.to_datetime(good.loc[in_person, "meeting_at"], format="ISO8601", utc=True)
    assert meetings.gt(NOW).all()


def test_meeting_times_carry_the_local_offset_of_their_day():
    # NOW sits just before the European switch to summer time: meetings in Berlin on
    # either side of it must show +01:00 and +02:00.
    frame = generate_batch(3000, seed=5, bad_share=0.0, channel_mix=(0, 0, 1), now=NOW)
    berlin = frame[frame["timezone"] == "Europe/Berlin"]
    local = pd.to_datetime(berlin["meeting_at"].str[:19])
    offsets = berlin["meeting_at"].str[19:]
    assert set(offsets[local < "2026-03-29"]) == {"+01:00"}
    assert set(offsets[local > "2026-03-29"]) == {"+02:00"}
    kolkata = frame.loc[frame["timezone"] == "Asia/Kolkata", "meeting_at"].str[19:]
    assert set(kolkata) == {"+05:30"}
    hours = pd.to_datetime(frame["meeting_at"].str[:19]).dt.hour
    assert hours.between(9, 16).all()  # office hours, local time


def test_reasons_are_distinct_items_of_the_decisions_kind(batch):
    good = batch[~batch["_bad"]]
    reasons = good["reasons"].str.split(";")
    assert reasons.map(len).between(2, 3).all()
    assert (reasons.map(lambda items: len(set(items))) == reasons.map(len)).all()
    strengths = set(reasons[good["decision"] == "offer"].explode())
    feedback = set(reasons[good["decision"] == "reject"].explode())
    assert strengths and feedback and strengths.isdisjoint(feedback)
    interests = good.loc[good["interests"] != "", "interests"].str.split(";")
    assert set(interests.map(len)) == {1, 2}
    assert (interests.map(lambda items: len(set(items))) == interests.map(len)).all()
    assert 0.2 < (good["interests"] == "").mean() < 0.4


def test_notes_keep_newlines_and_quotes(batch):
    assert batch["notes"].str.contains("\n").any()
    assert batch["notes"].str.contains('"').any()
    assert batch["reasons"].str.contains(";").any()


def test_ats_headers_rename_the_same_data():
    plain = generate_batch(300, seed=2, now=NOW)
    ats = generate_batch(300, seed=2, now=NOW, ats_headers=True)
    assert list(ats.columns) == [ATS_HEADERS[c] for c in COLUMNS] + TRUTH
    assert "Email Address" in ats.columns and "Job Title" in ats.columns
    np.testing.assert_array_equal(ats.to_numpy(), plain.to_numpy())


def test_write_batch_drops_truth_columns_and_round_trips(tmp_path):
    frame = generate_batch(2000, seed=9, bad_share=0.05, now=NOW)
    path = write_batch(frame, tmp_path / "nested" / "batch.csv")
    assert path == tmp_path / "nested" / "batch.csv"
    raw = path.read_bytes().decode("utf-8")  # UTF-8, or this raises
    assert "_bad" not in raw.splitlines()[0] and "_fault" not in raw.splitlines()[0]
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, frame.drop(columns=TRUTH), check_dtype=False)
    assert list(tmp_path.joinpath("nested").iterdir()) == [path]  # no partial file left behind


def test_write_batch_formats_non_text_columns(tmp_path):
    frame = pd.DataFrame({"candidate_id": ["C-1", "C-2"], "salary_min": [50000, 60000], "_bad": [True, False]})
    back = pd.read_csv(write_batch(frame, tmp_path / "b.csv"), dtype=str, keep_default_na=False)
    assert back.to_dict("list") == {"candidate_id": ["C-1", "C-2"], "salary_min": ["50000", "60000"]}


@pytest.mark.parametrize("kwargs", [{"n": -1}, {"bad_share": 1.5}, {"channel_mix": (1.0, -0.5, 0.5)},
                                    {"channel_mix": (0.0, 0.0, 0.0)}])
def test_refuses_impossible_parameters(kwargs):
    with pytest.raises(ValueError):
        generate_batch(**{"n": 10, **kwargs})


def test_tiny_and_all_bad_batches():
    assert generate_batch(0, now=NOW).empty
    every = generate_batch(30, bad_share=1.0, now=NOW)
    assert every["_bad"].all() and set(every["_fault"]) == set(FAULTS)


def _sample_bytes(tmp_path) -> bytes:
    frame = generate_batch(samples.SAMPLE_ROWS, seed=samples.SAMPLE_SEED, bad_share=samples.SAMPLE_BAD_SHARE,
                           now=samples.SAMPLE_NOW, ats_headers=True)
    return write_batch(frame, tmp_path / "expected.csv").read_bytes()


def test_committed_sample_is_what_the_generator_makes(tmp_path):
    committed = samples.default_sample_path()
    assert committed.is_file() and committed.parts[-3:] == ("data", "samples", "candidates.csv")
    assert committed.read_bytes() == _sample_bytes(tmp_path)
    shown = pd.read_csv(committed, dtype=str, keep_default_na=False)
    assert len(shown) == 60 and list(shown.columns) == [ATS_HEADERS[c] for c in COLUMNS]
    truth = generate_batch(60, seed=7, bad_share=0.08, now=samples.SAMPLE_NOW)
    assert 3 <= truth["_bad"].sum() <= 6  # a few quarantined rows for the demo, not a wall of them


def test_ensure_sample_writes_once_into_the_data_dir(tmp_path):
    path = ensure_sample(tmp_path)
    assert path == tmp_path / "samples" / "candidates.csv"
    assert path.read_bytes() == _sample_bytes(tmp_path)
    path.write_text("edited by hand\n", encoding="utf-8")
    assert ensure_sample(tmp_path).read_text(encoding="utf-8") == "edited by hand\n"


def test_default_sample_path_falls_back_to_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(samples, "_REPOSITORY_SAMPLE", tmp_path / "not-installed" / "candidates.csv")
    assert samples.default_sample_path(tmp_path / "data") == tmp_path / "data" / "samples" / "candidates.csv"
    assert (tmp_path / "data" / "samples" / "candidates.csv").is_file()
