"""Retention against a real database: each table's rule, the keep rule for held and case-linked footage,
pending outbox rows, bounded batches, and the CLI's one-shot run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.storage import add_alert, add_dead_letter, add_event, add_footage, add_outbox, add_track, count, link_case

from edge.cli import main
from edge.housekeeping.config import RetentionConfig
from edge.housekeeping.pruner import Pruner
from edge.store import Store, Tx, uplink_queue
from edge.store.prune import Batch
from edge.store.uplink_queue import TrafficClass
from edge.timeutil import to_iso

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=200)  # past 183 days for everything written at T0
FRESH = NOW - timedelta(days=10)



async def test_old_telemetry_and_events_go_and_recent_ones_stay(store: Store) -> None:
    await add_track(store, "cam-0001", T0, 120)
    await add_track(store, "cam-0001", FRESH, 30, seq0=1000)
    await add_event(store, "cam-0001", 1, T0)
    await add_event(store, "cam-0001", 2, FRESH)
    report = await Pruner(store, RetentionConfig()).run(NOW)
    assert report.rules["telemetry"].deleted == 120
    assert report.rules["events"].deleted == 1
    assert await count(store, "SELECT count(*) FROM telemetry") == 30
    assert await count(store, "SELECT min(received_at) >= ? FROM telemetry", (to_iso(FRESH),)) == 1
    assert await count(store, "SELECT count(*) FROM device_events WHERE seq = 2") == 1
    assert await count(store, "SELECT count(*) FROM device_events") == 1


async def test_each_retention_is_its_own(store: Store) -> None:
    config = RetentionConfig(telemetry_days=300, events_days=300, dead_letters_days=30, alert_history_days=100,
                             outbox_acked_days=20)
    await add_track(store, "cam-0001", NOW - timedelta(days=250), 10)  # under 300 days: stays
    await add_dead_letter(store, NOW - timedelta(days=31))  # goes
    await add_dead_letter(store, NOW - timedelta(days=29))  # stays
    await add_alert(store, "old-cleared", NOW - timedelta(days=150), NOW - timedelta(days=101))  # goes
    await add_alert(store, "recently-cleared", NOW - timedelta(days=150), NOW - timedelta(days=99))  # stays
    await add_alert(store, "still-active", NOW - timedelta(days=400), None)  # active: stays forever
    await add_outbox(store, "confirmed-old", "confirmed", NOW - timedelta(days=21))  # goes
    await add_outbox(store, "confirmed-new", "confirmed", NOW - timedelta(days=19))  # stays
    report = await Pruner(store, config).run(NOW)
    assert await count(store, "SELECT count(*) FROM telemetry") == 10
    assert report.rules["dead_letters"].deleted == 1
    assert await count(store, "SELECT count(*) FROM dead_letter") == 1
    assert await store.read(lambda q: sorted(r["key"] for r in q.all("SELECT key FROM alerts"))) == [
        "recently-cleared", "still-active"]
    # The removed alert's transitions went with it; the others' stayed (raised + cleared, raised).
    assert await count(store, "SELECT count(*) FROM alert_events") == 3
    assert await store.read(lambda q: [r["dedupe_key"] for r in q.all("SELECT dedupe_key FROM outbox")]) == [
        "confirmed-new"]


async def test_pending_in_flight_sent_and_failed_outbox_rows_are_never_pruned(store: Store) -> None:
    ancient = NOW - timedelta(days=3000)
    for state in ("pending", "in_flight", "sent", "failed", "confirmed"):
        await add_outbox(store, f"{state}-1", "pending", ancient)

    def advance(tx: Tx) -> None:  # through the uplink's own transitions, which keep each state's columns right
        for key, steps in (("in_flight-1", 1), ("sent-1", 2), ("failed-1", 3)):
            entry_id = tx.scalar("SELECT id FROM outbox WHERE dedupe_key = ?", (key,))
            tx.execute("UPDATE outbox SET priority = 0 WHERE id = ?", (entry_id,))  # alone in its class
            [claimed] = uplink_queue.claim(tx, TrafficClass.CRITICAL, owner="t", station_id="s", now=ancient)
            if steps == 2:
                uplink_queue.mark_sent(tx, claimed.id, owner="t", now=ancient)
            elif steps == 3:
                uplink_queue.mark_failed(tx, claimed.id, reason="rejected", detail="422", now=ancient)
        tx.execute("UPDATE outbox SET state = 'confirmed' WHERE dedupe_key = 'confirmed-1'")

    await store.write(advance)
    await Pruner(store, RetentionConfig(outbox_acked_days=1)).run(NOW)
    kept = await store.read(lambda q: sorted(r["state"] for r in q.all("SELECT state FROM outbox")))
    assert kept == ["failed", "in_flight", "pending", "sent"]


async def test_telemetry_and_events_of_held_and_case_linked_footage_are_kept(store: Store) -> None:
    # Four cameras with a two-hour track each, all past retention; each recorded a ten-minute clip at T0+1h.
    clip = T0 + timedelta(hours=1)
    for cam in ("cam-held", "cam-marked", "cam-linked", "cam-routine", "cam-review"):
        await add_track(store, cam, T0, 120)
        await add_event(store, cam, 1, clip + timedelta(minutes=2))
        await add_event(store, cam, 2, T0 + timedelta(minutes=5))  # far from the clip
    await add_footage(store, "cam-held", clip, 600, hold=True)
    await add_footage(store, "cam-marked", clip, 600, marked=True)
    linked = await add_footage(store, "cam-linked", clip, 600)
    await link_case(store, linked, "C-1", "linked", clip)
    review = await add_footage(store, "cam-review", clip, 600)
    await link_case(store, review, "C-2", "review", clip)
    await add_footage(store, "cam-routine", clip, 600)
    config = RetentionConfig(context_margin_min=5)
    report = await Pruner(store, config).run(NOW)
    assert report.rules["telemetry"].kept_spans == 4
    # Kept: the clip's ten minutes plus five either side, one fix a minute => 20 or 21 fixes.
    window = (to_iso(clip - timedelta(minutes=5)), to_iso(clip + timedelta(minutes=15)))
    for cam in ("cam-held", "cam-marked", "cam-linked", "cam-review"):
        kept = await count(store, "SELECT count(*) FROM telemetry WHERE device_id = ?", (cam,))
        inside = await count(store, "SELECT count(*) FROM telemetry WHERE device_id = ? AND device_ts BETWEEN ? AND ?",
                             (cam, *window))
        assert kept == inside and 20 <= kept <= 21, (cam, kept, inside)
        assert await store.read(lambda q, cam=cam: [r["seq"] for r in q.all(
            "SELECT seq FROM device_events WHERE device_id = ?", (cam,))]) == [1]
    assert await count(store, "SELECT count(*) FROM telemetry WHERE device_id = 'cam-routine'") == 0
    assert await count(store, "SELECT count(*) FROM device_events WHERE device_id = 'cam-routine'") == 0


async def test_a_released_link_lets_the_context_go(store: Store) -> None:
    clip = T0 + timedelta(hours=1)
    await add_track(store, "cam-0001", T0, 120)
    footage_id = await add_footage(store, "cam-0001", clip, 600)
    await link_case(store, footage_id, "C-9", "linked", clip)
    await Pruner(store, RetentionConfig()).run(NOW)
    assert await count(store, "SELECT count(*) FROM telemetry") > 0
    await link_case(store, footage_id, "C-9", "unlinked", clip)
    await Pruner(store, RetentionConfig()).run(NOW)
    assert await count(store, "SELECT count(*) FROM telemetry") == 0


async def test_batches_never_exceed_batch_rows(store: Store) -> None:
    for cam in range(5):
        await add_track(store, f"cam-{cam:04d}", T0, 600, every_s=6)  # 6,000 rows per camera
    batches: list[Batch] = []
    config = RetentionConfig(batch_rows=500, batch_pause_s=0)
    report = await Pruner(store, config, on_batch=batches.append).run(NOW)
    telemetry = [b for b in batches if b.rule == "telemetry"]
    assert report.rules["telemetry"].deleted == 30_000 == sum(b.deleted for b in telemetry)
    assert max(b.scanned for b in telemetry) <= 500
    assert max(b.deleted for b in telemetry) <= 500
    assert len(telemetry) >= 30_000 // 500
    assert report.rules["telemetry"].largest_batch <= 500


async def test_a_row_with_a_future_clock_does_not_stop_the_walk(store: Store) -> None:
    await add_track(store, "cam-0001", T0, 10)
    await add_track(store, "cam-0002", T0 + timedelta(days=5000), 1)  # a camera whose gateway time was wild
    await add_track(store, "cam-0003", T0, 10, seq0=100)
    await Pruner(store, RetentionConfig(batch_rows=10)).run(NOW)
    assert await store.read(lambda q: [r["device_id"] for r in q.all("SELECT device_id FROM telemetry")]) == [
        "cam-0002"]


async def test_db_prune_cli_prints_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    store = Store(data / "station.db")
    await store.open()
    await add_track(store, "cam-0001", T0, 30)
    await store.close()
    config = tmp_path / "edge.toml"
    config.write_text(f'[station]\nid = "S1"\ndata_dir = "{data}"\n[retention]\nbatch_rows = 10\n')
    # The CLI runs its own event loop: in a thread, as from a shell.
    code = await asyncio.to_thread(main, ["db", "prune", "--config", str(config), "--now", to_iso(NOW)])
    out = capsys.readouterr().out
    assert code == 0
    assert "telemetry: 30 rows deleted" in out
    assert "pruned 30 rows (telemetry 30)" in out



def test_db_prune_cli_refuses_a_bad_time_and_a_missing_database(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(f'[station]\nid = "S1"\ndata_dir = "{tmp_path / "nowhere"}"\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["db", "prune", "--config", str(config), "--now", "yesterday"])
    assert exit_info.value.code == 2
    assert "not an ISO time with a zone: 'yesterday'" in capsys.readouterr().err
    assert main(["db", "prune", "--config", str(config)]) == 1
    assert f"no database at {tmp_path / 'nowhere' / 'station.db'}" in capsys.readouterr().err
    config.write_text('[station]\nid = "S1"\n[retention]\ntelemetry_days = 7\n')
    assert main(["db", "prune", "--config", str(config)]) == 2
    assert "retention.telemetry_days (7) is shorter" in capsys.readouterr().err


async def test_ingest_records_go_only_when_no_footage_needs_them(store: Store) -> None:
    from edge.store import expected_footage
    from edge.store import footage as footage_rows

    old, recent = NOW - timedelta(days=120), NOW - timedelta(days=10)

    def sessions(tx: Tx) -> None:
        for ingest_id, source, state, at in (("a" * 32, "upload", "terminated", old),
                                             ("b" * 32, "upload", "duplicate", old),
                                             ("c" * 32, "upload", "terminated", recent),
                                             ("d" * 32, "dock", "terminated", old),
                                             ("e" * 32, "upload", "receiving", old)):
            footage_rows.ingest_create(tx, {"id": ingest_id, "source": source, "device_id": "cam-0001",
                                            "actor": "device:cam-0001", "file_name": f"{ingest_id[0]}.mp4",
                                            "length": 10, "state": state, "created_at": to_iso(at)})

    await store.write(sessions)
    kept_footage = await add_footage(store, "cam-0001", T0, 60, name="kept.mp4", ingested_at=old)  # a complete ingest
    gone_footage = await add_footage(store, "cam-0001", T0 + timedelta(hours=2), 60, name="gone.mp4", ingested_at=old)
    await store.write(lambda tx: footage_rows.tombstone(tx, gone_footage, reason="retention", at=to_iso(old)))

    def announcements(tx: Tx) -> None:
        for name, footage_id, sos in (("kept.mp4", kept_footage, False), ("gone.mp4", gone_footage, False),
                                      ("never.mp4", None, False), ("held.mp4", None, True)):
            expected_footage.announce(tx, device_id="cam-0001", file_name=name, officer_no=None, device_start=T0,
                                      device_end=T0 + timedelta(minutes=1), size_bytes=10, sha256="0" * 64,
                                      marked=False, sos=sos, announced_at=old, announced_device_ts=old,
                                      deadline_at=old)
            if footage_id is not None:
                expected_footage.fulfil(tx, "cam-0001", name, 10, "0" * 64, str(footage_id), at=old)

    await store.write(announcements)
    await Pruner(store, RetentionConfig(ingest_records_days=90)).run(NOW)
    ingests = await store.read(lambda q: {r["id"]: r["state"] for r in q.all("SELECT id, state FROM ingests")})
    # a, b (old upload sessions without footage) go; c (recent), d (dock), e (open) and the footage's stay.
    assert {i[0]: state for i, state in ingests.items() if len(set(i)) == 1} == {
        "c": "terminated", "d": "terminated", "e": "receiving"}
    assert len(ingests) == 5  # + the two footage rows' own ingests
    names = await store.read(lambda q: sorted(r["file_name"] for r in q.all("SELECT file_name FROM expected_footage")))
    assert names == ["held.mp4", "kept.mp4", "never.mp4"]


async def test_a_confirmed_footage_entry_stays_while_its_file_does(store: Store) -> None:
    from edge.store import footage as footage_rows

    footage_id = await add_footage(store, "cam-0001", T0, 60)
    sha = await store.read(lambda q: q.scalar("SELECT sha256 FROM footage WHERE id = ?", (footage_id,)))
    await add_outbox(store, f"footage:{sha}", "confirmed", NOW - timedelta(days=100))
    await Pruner(store, RetentionConfig()).run(NOW)
    assert await count(store, "SELECT count(*) FROM outbox") == 1
    await store.write(lambda tx: footage_rows.tombstone(tx, footage_id, reason="retention", at=to_iso(NOW)))
    await Pruner(store, RetentionConfig()).run(NOW)
    assert await count(store, "SELECT count(*) FROM outbox") == 0


async def test_an_sos_announcement_not_yet_arrived_keeps_its_context(store: Store) -> None:
    from edge.store import expected_footage

    clip = T0 + timedelta(hours=1)
    await add_track(store, "cam-0001", T0, 120)
    await store.write(lambda tx: expected_footage.announce(
        tx, device_id="cam-0001", file_name="sos.mp4", officer_no=None, device_start=clip,
        device_end=clip + timedelta(minutes=10), size_bytes=10, sha256="0" * 64, marked=False, sos=True,
        announced_at=clip, announced_device_ts=clip, deadline_at=clip + timedelta(days=1)))
    await Pruner(store, RetentionConfig(context_margin_min=0)).run(NOW)
    kept = await store.read(lambda q: [r["device_ts"] for r in q.all("SELECT device_ts FROM telemetry")])
    assert len(kept) == 11  # one fix a minute over [clip, clip + 10 min]
    assert min(kept) >= to_iso(clip) and max(kept) <= to_iso(clip + timedelta(minutes=10))


async def test_a_rule_that_fails_does_not_stop_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    store = Store(data / "station.db")
    await store.open()
    await add_track(store, "cam-0001", T0, 30)
    await add_dead_letter(store, T0)
    # A guard like the custody log's: this database refuses to delete dead letters.
    await store.write(lambda tx: tx.execute("CREATE TRIGGER keep_dead_letters BEFORE DELETE ON dead_letter"
                                            " BEGIN SELECT RAISE(ABORT, 'dead letters are kept here'); END"))
    report = await Pruner(store, RetentionConfig()).run(NOW)
    assert report.failed and "dead letters are kept here" in report.rules["dead_letters"].error
    assert report.rules["telemetry"].deleted == 30 and report.checkpoint is not None
    assert "FAILED: dead_letters" in report.summary()
    await add_track(store, "cam-0002", T0, 5)
    await store.close()
    config = tmp_path / "edge.toml"
    config.write_text(f'[station]\nid = "S1"\ndata_dir = "{data}"\n')
    assert await asyncio.to_thread(main, ["db", "prune", "--config", str(config), "--now", to_iso(NOW)]) == 1
    captured = capsys.readouterr()
    assert "dead_letters: failed" in captured.err and "telemetry: 5 rows deleted" in captured.out
