"""The shipped systemd units and Mosquitto include: valid, hardened, and agreeing with the config and docs."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from support.deployment import (
    DEPLOY,
    INSTALL_PREFIX,
    OPERATIONS,
    ROOT,
    UNITS,
    default_config,
    install_section,
    mosquitto_directives,
    systemd_verify,
    unit_directives,
)

from edge.bodycam.config import RELOAD_FLAG


def _units() -> dict[str, str]:
    return {name: (DEPLOY / name).read_text(encoding="utf-8") for name in UNITS}


def test_systemd_analyze_verify_passes_on_every_unit() -> None:
    result = systemd_verify(_units())
    assert result.returncode == 0, result.stderr
    # Unknown keys and bad values are only warnings to systemd: any output at all fails the check.
    assert result.stdout + result.stderr == ""


def test_the_verify_check_catches_a_mistyped_directive_and_a_missing_binary() -> None:
    units = _units()
    units["station-edge.service"] = units["station-edge.service"].replace("ProtectClock=", "ProtectClok=")
    assert "Unknown key 'ProtectClok'" in systemd_verify(units).stderr
    units = _units()
    units["station-edge-broker-reload.service"] = units["station-edge-broker-reload.service"].replace(
        "ExecStart=/usr/bin/rm", "ExecStart=/usr/bin/no-such-tool")
    result = systemd_verify(units)
    assert result.returncode != 0 and "no-such-tool" in result.stderr


def test_every_command_the_units_run_exists() -> None:
    # systemd-analyze checks only the first command of each Exec list; this checks them all.
    for name in UNITS:
        service = unit_directives(DEPLOY / name).get("Service", {})
        for command in service.get("ExecStartPre", []) + service.get("ExecStart", []):
            binary = PurePosixPath(command.split()[0])
            local = ROOT / binary.relative_to(INSTALL_PREFIX) if binary.is_relative_to(INSTALL_PREFIX) else None
            assert Path(str(binary)).exists() or (local is not None and local.exists()), f"{name}: {command}"


def test_daemon_unit_reaches_serial_ports_and_keeps_its_hardening() -> None:
    service = unit_directives(DEPLOY / "station-edge.service")["Service"]
    assert "dialout" in " ".join(service["SupplementaryGroups"]).split()
    assert service["User"] == ["station-edge"] and service["Type"] == ["notify"]
    expected = {"ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true", "NoNewPrivileges": "true",
                "RestrictSUIDSGID": "true", "ProtectKernelTunables": "true", "ProtectControlGroups": "true",
                "CapabilityBoundingSet": "", "UMask": "0027"}
    assert {key: service.get(key, [None])[-1] for key in expected} == expected
    assert "PrivateDevices" not in service, "PrivateDevices= would hide the kiosk's serial ports"
    assert not any("systemctl" in command for command in service["ExecStart"] + service["ExecStartPre"])


def test_paths_agree_between_units_mosquitto_include_config_and_docs() -> None:
    config = default_config()
    data_dir = PurePosixPath(str(config["station"]["data_dir"]))  # type: ignore[index]
    broker_dir = PurePosixPath(str(config["bodycam"]["broker_dir"]))  # type: ignore[index]
    assert config["bodycam"]["broker_reload"] == "path-unit"  # type: ignore[index]
    service = unit_directives(DEPLOY / "station-edge.service")["Service"]
    writable = [PurePosixPath(p.lstrip("-")) for value in service["ReadWritePaths"] for p in value.split()]
    assert data_dir in writable and any(broker_dir.is_relative_to(p) for p in writable), \
        "the daemon must be able to write its broker directory under ProtectSystem=strict"
    assert service["StateDirectory"] == [data_dir.name] and data_dir.parent == PurePosixPath("/var/lib")

    path_unit = unit_directives(DEPLOY / "station-edge-broker-reload.path")
    flag = broker_dir / RELOAD_FLAG
    assert path_unit["Path"]["PathExists"] == [str(flag)]
    assert path_unit["Path"]["Unit"] == ["station-edge-broker-reload.service"]
    reload = unit_directives(DEPLOY / "station-edge-broker-reload.service")["Service"]
    assert reload["Type"] == ["oneshot"]
    assert reload["ExecStart"] == [f"/usr/bin/rm -f {flag}", "/usr/bin/systemctl reload mosquitto.service"], \
        "the flag is removed before the reload, so a change during the reload triggers another"

    include = mosquitto_directives((DEPLOY / "mosquitto" / "station-edge.conf").read_text(encoding="utf-8"))
    assert include["password_file"] == [str(broker_dir / "passwd")]
    assert include["acl_file"] == [str(broker_dir / "acl")]
    assert include["allow_anonymous"] == ["false"] and "per_listener_settings" not in include

    config_arg = service["ExecStart"][0].split("--config ")[1]
    docs = OPERATIONS.read_text(encoding="utf-8")
    walkthrough = install_section()
    for needle in (config_arg, str(broker_dir), str(data_dir), "/etc/mosquitto/conf.d/", *UNITS,
                   "deploy/mosquitto/station-edge.conf", "SupplementaryGroups=dialout"):
        assert needle in walkthrough, f"docs/operations.md's walk-through does not mention {needle}"
    assert "systemctl reload mosquitto\n" not in docs.replace("`", "\n")
    # The modes that let Mosquitto (group mosquitto) read the broker files and nothing else.
    assert service["StateDirectoryMode"] == ["0751"]
    assert f"install -d -o station-edge -g station-edge -m 0751 {data_dir}\n" in walkthrough
    assert f"install -d -o station-edge -g mosquitto -m 2750 {broker_dir}\n" in walkthrough


def test_every_deploy_file_is_named_in_the_walkthrough() -> None:
    shipped = sorted(str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.is_file())
    walkthrough = install_section()
    assert [name for name in shipped if Path(name).name not in walkthrough] == []
