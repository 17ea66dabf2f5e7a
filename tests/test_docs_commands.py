"""The shell commands in README.md and docs/ work as typed, from a clean copy of the project.

Every ```sh block in those files carries a comment just above it that says how its lines are
checked, one directive per line of the block (``;`` between them):

    <!-- doc-test: terminal "req/s"; skip "runs this very test suite" -->

- ``run``: the line runs in bash and must exit 0;
- ``terminal "TEXT"``: a full-screen program, run on a pseudo-terminal until TEXT is on
  screen, then ``q``; it must exit 0;
- ``agent``: obsview-agent, started until it says where it listens, then stopped (SIGTERM) and
  must exit 0; the console config then points at it, for a ``terminal`` line after it;
- ``skip "why"``: not run here (a remote server, systemd, a fixed port other programs may
  hold), with the reason;
- ``setup "COMMAND"``: not a line of the block: a command run first (what a person would
  have done by hand, like copying a file to the server).

A block without the comment fails the test, so a new command cannot be forgotten. The copy
holds the files git tracks, as a fresh clone would, with its own virtualenv (uv sync), its
own home directories (no config or token of the user's) and its own uv tool directory, whose
bin/ is on PATH once the docs' install line ran. Agents get ``listen = "127.0.0.1:0"`` from
the copy's agent.toml, so no command needs a port that may be taken.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from terminal import run_in_terminal

ROOT = Path(__file__).resolve().parent.parent
#: Order matters: README's install line puts obsview on PATH for the docs after it; remote.md
#: comes last, since its server's install (the agent alone) replaces the laptop's.
DOCS = ("README.md", "docs/instrumenting.md", "docs/prometheus.md", "docs/threat-model.md",
        "docs/architecture.md", "docs/remote.md")
_BLOCK = re.compile(r"(?:<!-- doc-test: (?P<how>.*?) -->\n)?```(?:sh|bash|shell|console)\n(?P<body>.*?)```",
                    re.DOTALL)
_DIRECTIVE = re.compile(r'\s*(run|agent|terminal|skip|setup)\s*(?:"([^"]*)")?\s*')
_LISTENING = re.compile(r"listening on (ws://\S+)")


@dataclass(frozen=True, slots=True)
class Step:
    how: str
    argument: str
    line: str


def doc_steps(doc: str) -> Iterator[tuple[int, list[Step]]]:
    """(line number, steps) for each shell block of ``doc``; fails on an undeclared block."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    for match in _BLOCK.finditer(text):
        where = f"{doc} line {text.count(chr(10), 0, match.start('body'))}"
        if match["how"] is None:
            raise AssertionError(f"{where}: shell block without a <!-- doc-test: … --> comment above it")
        lines = [line for line in match["body"].splitlines() if line.strip() and not line.lstrip().startswith("#")]
        directives = [_DIRECTIVE.fullmatch(part) for part in match["how"].split(";")]
        if not all(directives):
            raise AssertionError(f"{where}: cannot read the directives {match['how']!r}")
        steps: list[Step] = []
        for directive in directives:
            assert directive is not None
            how, argument = directive[1], directive[2] or ""
            if how == "setup":
                steps.append(Step(how, argument, argument))
                continue
            if not lines:
                raise AssertionError(f"{where}: more directives than lines")
            steps.append(Step(how, argument, lines.pop(0)))
        if lines:
            raise AssertionError(f"{where}: no directive for {lines[0]!r}")
        yield text.count("\n", 0, match.start()) + 1, steps


def test_every_shell_block_says_how_it_is_checked() -> None:
    for doc in DOCS:
        for _line, steps in doc_steps(doc):
            assert steps


# --------------------------------------------------------------------------- the clean copy


@dataclass(slots=True)
class CleanCopy:
    root: Path
    env: dict[str, str]

    def bash(self, line: str, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", line], cwd=self.root, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def point_console_at(self, url: str) -> None:
        config = Path(self.env["XDG_CONFIG_HOME"]) / "obsview" / "console.toml"
        config.write_text(f"url = {json.dumps(url)}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> CleanCopy:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH (the docs' commands start with it)")
    base = tmp_path_factory.mktemp("docs")
    root = base / "obsview"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    home = base / "home"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("XDG_", "VIRTUAL_ENV", "UV_", "OBSVIEW_", "PYTEST"))}
    # uv's cache stays the user's (a fresh download of every wheel proves nothing here).
    env["UV_CACHE_DIR"] = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True,
                                         env=env, check=True).stdout.strip()
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"), XDG_CACHE_HOME=str(home / ".cache"),
        UV_TOOL_DIR=str(base / "tools"), UV_TOOL_BIN_DIR=str(base / "bin"),
        PATH=f"{base / 'bin'}{os.pathsep}{env['PATH']}",
    )
    (home / ".config" / "obsview").mkdir(parents=True)
    (home / ".config" / "obsview" / "agent.toml").write_text('listen = "127.0.0.1:0"\n', encoding="utf-8")
    # What the docs' file examples open.
    lines = [json.dumps({"level": "info", "message": f"line {i}", "timestamp": "2026-12-03T10:00:00Z"})
             for i in range(200)]
    (root / "app.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "logs").mkdir()
    for name in ("combined.log", "app.log", "worker.log"):
        (root / "logs" / name).write_text("\n".join(lines[:50]) + "\n", encoding="utf-8")
    copy = CleanCopy(root, env)
    synced = copy.bash("uv sync --locked --quiet")
    assert synced.returncode == 0, synced.stderr
    return copy


def run_block(copy: CleanCopy, steps: list[Step], where: str) -> None:
    index = 0
    while index < len(steps):
        step = steps[index]
        following = steps[index + 1] if index + 1 < len(steps) else None
        if step.how == "agent":
            # A console right after an agent must find it running: it runs meanwhile.
            console = following if following is not None and following.how == "terminal" else None
            run_agent(copy, step, console, where)
            index += 2 if console is not None else 1
            continue
        if step.how in ("run", "setup"):
            result = copy.bash(step.line)
            assert result.returncode == 0, f"{where}: {step.line!r} failed:\n{result.stdout}{result.stderr}"
        elif step.how == "terminal":
            run_console(copy, step, where)
        index += 1


def run_console(copy: CleanCopy, step: Step, where: str) -> None:
    code, _ = run_in_terminal(step.line, copy.root, wait_for=step.argument.encode(), env=copy.env)
    assert code == 0, f"{where}: {step.line!r} exited {code}"


def run_agent(copy: CleanCopy, agent: Step, console: Step | None, where: str) -> None:
    """Start the agent command until it says where it listens (the console config then
    points there), run ``console`` meanwhile, then stop the agent: it must exit 0."""
    process = subprocess.Popen(["bash", "-c", f"exec {agent.line}"], cwd=copy.root, env=copy.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = _LISTENING.search(first)
        assert found, f"{where}: {agent.line!r} said {first!r}"
        copy.point_console_at(found[1])
        if console is not None:
            run_console(copy, console, where)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, f"{where}: {agent.line!r} did not stop cleanly: {err}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("doc", DOCS)
def test_the_commands_work_as_typed(doc: str, clean_copy: CleanCopy) -> None:
    for line_number, steps in doc_steps(doc):
        run_block(clean_copy, steps, f"{doc} line {line_number}")
