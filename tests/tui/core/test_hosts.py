"""The agents a fleet console watches: URLs on the command line and ``[[hosts]]`` in its config."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsview.tui.cli import UsageError, load_console_config, main
from obsview.tui.hosts import HostsError, HostSpec, hosts_from_config, hosts_from_urls


def test_urls_are_named_after_their_address_and_told_apart() -> None:
    hosts = hosts_from_urls(["ws://10.0.0.11:8765", "ssh://deploy@web-2", "ws://10.0.0.11:8765"],
                            Path("/t"))
    assert [(h.name, h.url, h.token_file) for h in hosts] == [
        ("10.0.0.11:8765", "ws://10.0.0.11:8765", Path("/t")),
        ("web-2", "ssh://deploy@web-2", Path("/t")),
        ("10.0.0.11:8765#2", "ws://10.0.0.11:8765", Path("/t")),
    ]


def test_names_from_urls_hold_only_what_a_host_term_can() -> None:
    assert [h.name for h in hosts_from_urls(["ws://[::1]:8765", "wss://user@web-1.example:443/x"])] == [
        "::1:8765", "web-1.example:443"]
    with pytest.raises(HostsError, match="names no host"):
        hosts_from_urls(["ws://:80"])


def test_a_hosts_list_in_the_console_config(tmp_path: Path) -> None:
    path = tmp_path / "console.toml"
    path.write_text(
        'theme = "obsview-dark"\n'
        '[[hosts]]\nname = "web-1"\nurl = "ws://10.0.0.11:8765"\ntoken_file = "~/web-1.token"\n'
        '[[hosts]]\nname = "web-2"\nurl = "ssh://deploy@web-2"\n',
        encoding="utf-8",
    )
    config = load_console_config(path)
    assert config.hosts == (
        HostSpec("web-1", "ws://10.0.0.11:8765", Path("~/web-1.token").expanduser()),
        HostSpec("web-2", "ssh://deploy@web-2"),
    )
    assert config.theme == "obsview-dark"


@pytest.mark.parametrize(("entries", "message"), [
    ('hosts = "web-1"', "'hosts' must be an array of tables"),
    ('[[hosts]]\nurl = "ws://a:1"', "entry 1: 'name' is missing"),
    ('[[hosts]]\nname = "a"', "entry 1: 'url' is missing"),
    ('[[hosts]]\nname = "a"\nurl = "ws://a:1"\nport = 3', "unknown key 'port'"),
    ('[[hosts]]\nname = 7\nurl = "ws://a:1"', "'name' must be a string"),
    ('[[hosts]]\nname = "web 1"\nurl = "ws://a:1"', "name 'web 1' must be 1-40 letters"),
    ('[[hosts]]\nname = "[bold]x"\nurl = "ws://a:1"', "must be 1-40 letters"),
    ('[[hosts]]\nname = "a"\nurl = "http://a:1"', "[[hosts]] 'a': url 'http://a:1' must start with ws://"),
    ('[[hosts]]\nname = "a"\nurl = "ws://"', "names no host"),
    ('[[hosts]]\nname = "a"\nurl = "ssh://u:pw@a"', "no password in the URL"),
    ('[[hosts]]\nname = "a"\nurl = "ws://a:1"\n[[hosts]]\nname = "A"\nurl = "ws://b:1"',
     "two hosts are named 'A'"),
])
def test_a_bad_entry_is_one_line_naming_the_file_entry_and_key(
    tmp_path: Path, entries: str, message: str
) -> None:
    path = tmp_path / "console.toml"
    path.write_text(entries + "\n", encoding="utf-8")
    with pytest.raises(UsageError) as raised:
        load_console_config(path)
    assert message in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_too_many_hosts() -> None:
    with pytest.raises(HostsError, match="at most 32"):
        hosts_from_urls([f"ws://10.0.0.{n}:8765" for n in range(33)])
    with pytest.raises(HostsError, match="array of tables"):
        hosts_from_config({"name": "a"}, Path("c.toml"))


def test_several_urls_are_accepted_but_files_and_agents_are_not_mixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "app.log").write_text("x\n")
    assert main(["ws://127.0.0.1:1", str(tmp_path / "app.log")]) == 2
    assert "not both at once" in capsys.readouterr().err
    # A host's own token file must exist (it was asked for by name).
    (tmp_path / "obsview").mkdir()
    (tmp_path / "obsview" / "console.toml").write_text(
        '[[hosts]]\nname = "a"\nurl = "ws://127.0.0.1:1"\ntoken_file = "/nonexistent/t"\n'
        '[[hosts]]\nname = "b"\nurl = "ws://127.0.0.1:2"\n', encoding="utf-8")
    assert main([]) == 2
    assert "token file /nonexistent/t does not exist" in capsys.readouterr().err
