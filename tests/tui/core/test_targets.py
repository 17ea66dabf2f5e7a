"""What ``obsview ARG…`` is asked to show, checked before anything starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from obsview.tui.targets import TargetError, Targets, classify


def test_agents_files_and_the_pipe_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.log").write_text("x\n")
    (tmp_path / "worker-1.log").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("os.isatty", lambda fd: False)  # stdin is a pipe
    targets = classify(["ws://a:8765", "app.log", "worker-*.log", "ssh://deploy@web-1", "-"])
    assert targets == Targets(agents=("ws://a:8765", "ssh://deploy@web-1"),
                              files=("app.log", "worker-*.log"), stdin=True)
    assert targets.local and not classify(["ws://a"]).local
    assert classify(["demo"]) == Targets(demo=True) and classify([]) == Targets()


@pytest.mark.parametrize(("args", "message"), [
    (["missing.log"], "missing.log: no such file (an agent URL starts with ws:// or ssh://)"),
    (["nothing-*.log"], "nothing-*.log: no file matches"),
    (["."], ". is a directory: give its files ('./*.log')"),
    (["http://127.0.0.1:8765"], "an agent URL is ws://HOST:PORT"),
    (["ssh://u:pw@web-1"], "no password in the URL"),
    (["demo", "ws://a"], "'demo' runs on its own"),
    (["-", "-"], "'-' (the pipe) can be given once"),
])
def test_what_cannot_be_shown_is_named(args: list[str], message: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TargetError, match=re.escape(message)):
        classify(args)


def test_the_pipe_needs_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.isatty", lambda fd: fd == 0)
    with pytest.raises(TargetError, match=r"'-' reads a pipe: some-app \| obsview -"):
        classify(["-"])
