from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli import main
from edge.config import ConfigError, load

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load(path)
    return info.value.errors


def test_the_annotated_default_is_valid() -> None:
    config = load(REPO / "config" / "edge.toml")
    assert config.station.id == "ST-0001"
    assert {t.role.value for t in config.api.tokens} == {"technician", "supervisor"}


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, '[station]\nid = "S1"\n[mqtt]\nkeepalive = 30\n'))
    assert errors == [("mqtt.keepalive", "Extra inputs are not permitted")]


def test_wrong_type_is_named_with_its_path(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, '[station]\nid = "S1"\n[http]\nport = "eighty"\n'))
    assert errors[0][0] == "http.port"
    assert "integer" in errors[0][1]


def test_missing_required_key(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, '[station]\nname = "no id"\n'))
    assert errors == [("station.id", "Field required")]


def test_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    text = (
        '[station]\nid = "S1"\n[mqtt]\npassword_file = "missing.pw"\n'
        '[[api.tokens]]\nname = "a"\nrole = "technician"\ntoken_file = "/nonexistent/a.token"\n'
    )
    errors = errors_of(write(tmp_path, text))
    assert [path for path, _ in errors] == ["mqtt.password_file", "api.tokens[0].token_file"]
    assert str(tmp_path / "missing.pw") in errors[0][1]
    assert "No such file" in errors[0][1]


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        '[station]\nid = "bad id!"\n[mqtt]\nurl = "http://x"\nmax_inflight = 70000\n'
        '[[api.tokens]]\nname = "a"\nrole = "janitor"\ntoken = "0123456789abcdef"\n'
    )
    paths = {path for path, _ in errors_of(write(tmp_path, text))}
    assert paths == {"station.id", "mqtt.url", "mqtt.max_inflight", "api.tokens[0].role"}


def test_secret_files_are_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "mqtt.pw").write_text("s3cret\n")
    (tmp_path / "tech.token").write_text("abcdefghijklmnopqrstuvwxyz\n")
    config = load(
        write(
            tmp_path,
            '[station]\nid = "S1"\ndata_dir = "data"\n[mqtt]\nusername = "edge"\n'
            'password_file = "mqtt.pw"\n[[api.tokens]]\nname = "t"\nrole = "technician"\n'
            'token_file = "tech.token"\n',
        )
    )
    assert config.mqtt.password == "s3cret"
    assert config.api.tokens[0].token == "abcdefghijklmnopqrstuvwxyz"
    assert config.station.data_dir == tmp_path / "data"


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, "[station\n"))
    assert "not valid TOML" in errors[0][1]


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(REPO / "config" / "edge.toml")]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["check-config", str(write(tmp_path, '[station]\nid = "S1"\nbogus = 1\n'))]) == 2
    err = capsys.readouterr().err
    assert "station.bogus: Extra inputs are not permitted" in err


def test_two_tokens_with_one_digest_are_an_error_naming_the_key(tmp_path: Path) -> None:
    import hashlib

    token = "a-token-that-is-long-enough"
    (tmp_path / "ops.token").write_text(token + "\n", encoding="utf-8")
    digest = hashlib.sha256(token.encode()).hexdigest()
    path = write(tmp_path, f"""[station]\nid = "ST-1"\n
[[api.tokens]]\nname = "it"\nrole = "technician"\ntoken_sha256 = "{digest}"
[[api.tokens]]\nname = "sup"\nrole = "supervisor"\ntoken_sha256 = "{digest}"
[[api.tokens]]\nname = "ops"\nrole = "officer"\ntoken_file = "ops.token"
[[api.tokens]]\nname = "other"\nrole = "kiosk"\ntoken_sha256 = "{'0' * 64}"
""")
    assert errors_of(path) == [
        ("api.tokens[1].token_sha256", "same token as api.tokens[0] ('it'); every token must be unique"),
        ("api.tokens[2].token_file", "same token as api.tokens[0] ('it'); every token must be unique"),
    ]


def test_two_tokens_with_one_name_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"""[station]\nid = "ST-1"\n
[[api.tokens]]\nname = "it"\nrole = "technician"\ntoken_sha256 = "{'1' * 64}"
[[api.tokens]]\nname = "it"\nrole = "supervisor"\ntoken_sha256 = "{'2' * 64}"
""")
    [(key, message)] = errors_of(path)
    assert key == "api.tokens" and "duplicate token names: it" in message


def test_broker_signal_reload_needs_a_pid_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[station]\nid = "ST-1"\n[bodycam]\nbroker_dir = "broker"\nbroker_reload = "signal"\n')
    [(key, message)] = errors_of(path)
    assert key == "bodycam" and "broker_pid_file" in message
    path = write(tmp_path, '[station]\nid = "ST-1"\n[bodycam]\nbroker_dir = "broker"\n')
    config = load(path)
    assert config.bodycam.broker_password_file == tmp_path / "broker" / "passwd"
    assert config.bodycam.broker_reload_flag == tmp_path / "broker" / "reload-requested"


def test_a_telemetry_batch_that_could_not_fill_within_receive_maximum_is_refused(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, '[station]\nid = "S1"\n[mqtt]\nreceive_maximum = 300\n'
                                       '[bodycam]\ntelemetry_batch_rows = 200\n'))
    assert len(errors) == 1 and "telemetry_batch_rows must be at most half of mqtt.receive_maximum" in errors[0][1]
    assert load(write(tmp_path, '[station]\nid = "S1"\n[mqtt]\nreceive_maximum = 400\n')).mqtt.receive_maximum == 400
