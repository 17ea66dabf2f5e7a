"""The agent's TOML config: every key, defaults, and errors that name key, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsview.backend.addresses import parse_host_port
from obsview.backend.config import AgentConfig, config_from_mapping, load_config
from obsview.backend.errors import ConfigError

FULL = """\
listen = "[::1]:9000"
tail = ["/var/log/app.log", "/var/log/*.json"]
from_start = true
tcp = ["127.0.0.1:5044"]
stdin = true
service = "blog-api"
token_file = "/etc/obsview/token"
allowed_origins = ["https://ops.example"]
store_capacity = 5000
client_queue_events = 200
state_dir = "/var/lib/obsview"
metrics_interval_s = 0.5

[[probes]]
name = "redis"
kind = "tcp"
host = "127.0.0.1"
port = 6379

[[routes]]
pattern = "^/api/users/[^/]+"
replace = "/api/users/:name"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_every_key_is_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.listen == ("::1", 9000)
    assert config.tail == ["/var/log/app.log", "/var/log/*.json"]
    assert config.from_start and config.stdin
    assert config.tcp == [("127.0.0.1", 5044)]
    assert config.service == "blog-api"
    assert config.token_file == Path("/etc/obsview/token")
    assert config.allowed_origins == ["https://ops.example"]
    assert (config.store_capacity, config.client_queue_events) == (5000, 200)
    assert config.state_dir == Path("/var/lib/obsview")
    assert config.metrics_interval_s == 0.5
    assert [p.name for p in config.probes] == ["redis"]
    assert len(config.route_rules) == 1


def test_defaults_are_safe() -> None:
    config = AgentConfig()
    assert config_from_mapping({}) == config  # the file's defaults are the config's
    assert config.listen == ("127.0.0.1", 8765)
    assert config.token_file is None
    assert config.rules  # the seed's thresholds
    assert (config.tail, config.tcp, config.stdin) == ([], [], False)


def test_no_path_and_no_default_file_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config(None) == AgentConfig()
    (tmp_path / "obsview").mkdir()
    (tmp_path / "obsview" / "agent.toml").write_text('service = "from-default"\n')
    assert load_config(None).service == "from-default"


def test_unknown_key_names_key_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'service = "x"\n\nlisten_on = "0.0.0.0:1"\n')
    with pytest.raises(ConfigError, match=rf"{path} line 3: listen_on: unknown key"):
        load_config(path)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 2: store_capacity: expected `int`, got 'lots'$"):
        load_config(write(tmp_path, 'service = "x"\nstore_capacity = "lots"\n'))


def test_bad_probe_error_comes_from_the_probe_parser_with_the_line(tmp_path: Path) -> None:
    text = '[[probes]]\nname = "db"\nkind = "tcp"\nhost = "x"\nport = 99999\n'
    with pytest.raises(ConfigError, match=r"line 5: probes\[0\]\.port: expected `int` <= 65535, got 99999$"):
        load_config(write(tmp_path, text))


def test_bad_listen_port_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="port '70000' must be a number from 0 to 65535"):
        load_config(write(tmp_path, 'listen = "127.0.0.1:70000"\n'))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "listen = \n"))
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:8765", ("127.0.0.1", 8765)), ("[::1]:0", ("::1", 0)), ("localhost:80", ("localhost", 80))],
)
def test_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["8765", "::1:8765", "host:", "host:http", "[::1]", "h:-1"])
def test_bad_host_port(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_host_port(text)


def test_alert_rules_in_both_toml_spellings(tmp_path: Path) -> None:
    inline = '[alerts]\nrules = [{ name = "busy", metric = "request_rate", op = ">", threshold = 100 }]\n'
    tables = '[[alerts.rules]]\nname = "busy"\nmetric = "request_rate"\nthreshold = 100\nfor = "30s"\n'
    assert [r.name for r in load_config(write(tmp_path, inline)).rules] == ["busy"]
    assert load_config(write(tmp_path, tables)).rules[0].for_s == 30.0


def test_bad_rule_names_the_rule_and_the_line(tmp_path: Path) -> None:
    text = 'service = "x"\n[[alerts.rules]]\nname = "busy"\nmetric = "nope"\nthreshold = 1\n'
    with pytest.raises(ConfigError, match=r"line 4: alerts.rules\[0\]\.metric: expected one of .*, got 'nope'$"):
        load_config(write(tmp_path, text))


def test_notify_section_goes_to_the_notifier_parser(tmp_path: Path) -> None:
    text = '[[notify.webhook]]\nurl = "http://127.0.0.1:9/hook"\n'
    assert len(load_config(write(tmp_path, text)).notifiers) == 1
    with pytest.raises(ConfigError, match=r"line 2: notify.pager: unknown key"):
        load_config(write(tmp_path, '[notify]\npager = "x"\n'))


def test_errors_point_at_the_line_of_the_bad_key_in_the_second_table(tmp_path: Path) -> None:
    """Issue 12 item 17: the line of the key, not line 1 of its section (nor of the first
    table of that name)."""
    text = ('[[probes]]\nname = "api"\nkind = "tcp"\nhost = "x"\nport = 80\n\n'
            '[[probes]]\nname = "db"\nkind = "tcp"\nhost = "x"\ninterval = "soon"\nport = 5432\n\n'
            '[[notify.email]]\nhost = "smtp"\nfrom = "a@b"\nto = ["c@d"]\n# the port\nport = 0\n\n'
            '[[routes]]\npattern = "("\nreplace = "x"\n')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"{path} line 11: probes\[1\]\.interval: expected a duration"):
        load_config(path)
    text = text.replace('interval = "soon"', 'interval = "5s"')
    with pytest.raises(ConfigError, match=r"line 19: notify.email\[0\].port"):
        load_config(write(tmp_path, text))
    text = text.replace("port = 0", "port = 25")
    with pytest.raises(ConfigError, match=r"line 22: routes\[0\].pattern"):
        load_config(write(tmp_path, text))


def test_inline_tables_point_at_their_key(tmp_path: Path) -> None:
    text = 'service = "x"\n\n[alerts]\nrules = [\n  { name = "busy", metric = "nope", op = ">", threshold = 1 },\n]\n'
    with pytest.raises(ConfigError, match=r"line 4: alerts.rules\[0\]\.metric: expected one of"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [
    ('[[alerts.rules]]\nname = "busy"\nmetric = "request_rate"\nthreshold = 1\n\n'
     '[[alerts.rules]]\nname = "busy"\nmetric = "error_rate"\nthreshold = 1\n',
     r"line 7: alerts.rules\[1\]\.name: 'busy' is already the name of alerts.rules\[0\]$"),
    ('[[probes]]\nname = "db"\nkind = "tcp"\nhost = "x"\nport = 1\n\n'
     '[[probes]]\nname = "db"\nkind = "tcp"\nhost = "y"\nport = 2\n',
     r"line 8: probes\[1\]\.name: 'db' is already the name of probes\[0\]$"),
    # Channels are read kind by kind (webhooks before Slack): the Slack channel is the second.
    ('[[notify.slack]]\nurl = "http://b"\nname = "ops"\n\n[[notify.webhook]]\nurl = "http://c"\nname = "ops"\n',
     r"line 3: notify.slack\[0\].name: 'ops' is already the name of notify.webhook\[0\]"
     r" \(give each a name = \.\.\.\)$"),
    # An unnamed channel is named after its kind and index.
    ('[[notify.webhook]]\nurl = "http://a"\n\n[[notify.webhook]]\nurl = "http://b"\nname = "webhook-0"\n',
     r"line 6: notify.webhook\[1\].name: 'webhook-0' is already the name of notify.webhook\[0\]"),
])
def test_a_name_two_tables_take_is_refused_at_the_second(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [
    ('service = "x"\nprobes = [1]\n', r"line 2: probes\[0\]: expected `table`, got 1$"),
    ('service = "x"\n[alerts]\nrules = ["busy"]\n', r"line 3: alerts.rules\[0\]: expected `table`, got 'busy'$"),
    ('service = "x"\n[[probes]]\nkind = "tcp"\n', r"line 2: probes\[0\]\.name: required$"),
    ('[[alerts.rules]]\nname = ""\n', r"line 2: alerts.rules\[0\]\.name: expected `str` of length >= 1, got ''$"),
])
def test_an_entry_that_is_not_a_table_or_has_no_name_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [
    ('[[routes]]\npattern = "a"\n\nreplacement = "b"\n',
     r"line 4: routes\[0\]\.replacement: unknown key \(known keys: pattern, replace\)$"),
    ('[[routes]]\npattern = "a"\nreplace = 2\n', r"line 3: routes\[0\]\.replace: expected `str`, got 2$"),
    ('[[routes]]\npattern = "a"\n', r"line 1: routes\[0\]\.replace: required$"),
    ('service = "x"\nroutes = ["a"]\n', r"line 2: routes\[0\]: expected `table`, got 'a'$"),
])
def test_a_section_error_says_the_key_path_the_line_and_what_was_expected(tmp_path: Path, text: str,
                                                                          message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_an_alerts_table_without_rules_has_none_and_numbers_of_seconds_are_floats() -> None:
    assert config_from_mapping({}).rules  # the seed's
    assert config_from_mapping({"alerts": {}}).rules == []
    config = config_from_mapping({"metrics_interval_s": 2, "history_days": 1})
    assert (config.metrics_interval_s, config.history_days) == (2.0, 1.0)
    assert type(config.metrics_interval_s) is float


@pytest.mark.parametrize(("text", "message"), [
    ('[alerts]\nrule = []\n', r"line 2: alerts.rule: unknown key \(known keys: rules\)$"),
    ('service = "x"\ntcp = ["127.0.0.1:1", "nope"]\n', r"line 2: tcp\[1\]: address 'nope' is not HOST:PORT"),
    ('service = "x"\nhistory_days = 0\n', r"line 2: history_days: expected `float` > 0.0, got 0$"),
    ('service = "x"\nclient_queue_events = 0\n', r"line 2: client_queue_events: expected `int` >= 1, got 0$"),
    ('service = "x"\nnotify = 1\n', r"line 2: notify: expected `table`, got 1$"),
])
def test_top_level_errors_say_key_line_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))
