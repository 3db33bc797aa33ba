"""How provisioning asks the broker to reload: a flag file for the path unit, or SIGHUP by pid file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from edge.bodycam.enrolment import Enrolment
from edge.bodycam.provisioning import ProvisioningError
from edge.config import Config
from edge.store import Store


async def _provision(config: Config) -> bool:
    store = Store(config.database_path)
    await store.open()
    try:
        return await Enrolment(config, store).provision()
    finally:
        await store.close()


async def test_path_unit_mode_writes_the_flag_after_both_files(tmp_path: Path,
                                                              make_config: Callable[..., Config]) -> None:
    config = make_config(None, bodycam={"broker_dir": str(tmp_path / "mosq")},
                         mqtt={"username": "station-edge", "password": "daemon-password-0123"})
    assert await _provision(config)
    flag = tmp_path / "mosq" / "reload-requested"
    files = [tmp_path / "mosq" / "passwd", tmp_path / "mosq" / "acl"]
    assert flag.exists() and all(f.stat().st_mode & 0o777 == 0o640 for f in files)
    assert flag.stat().st_mtime_ns >= max(f.stat().st_mtime_ns for f in files)
    assert (tmp_path / "mosq" / "passwd").read_text().startswith("station-edge:")
    flag.unlink()  # as the path unit's service does; the next change asks again
    assert await _provision(config) and flag.exists()


async def test_signal_mode_tolerates_a_stopped_broker_and_names_a_bad_pid_file(
        tmp_path: Path, make_config: Callable[..., Config]) -> None:
    pid_file = tmp_path / "mosquitto.pid"
    config = make_config(None, bodycam={"broker_dir": str(tmp_path / "mosq"), "broker_reload": "signal",
                                        "broker_pid_file": str(pid_file)})
    assert await _provision(config), "no pid file: the broker is not running and reads the files at start"
    assert not (tmp_path / "mosq" / "reload-requested").exists()
    pid_file.write_text("not-a-pid\n")
    with pytest.raises(ProvisioningError, match=r"mosquitto\.pid"):
        await _provision(config)
