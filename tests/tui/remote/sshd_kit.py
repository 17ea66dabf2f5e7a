"""A private ``sshd`` on a loopback port, with a generated host key and one authorized key.

Nothing of the machine's SSH set-up is used or changed: the server, its host key, the client
key, the client's ssh config and known_hosts all live in the test's temporary directory, and
the client runs with ``ssh -F that-config`` (IdentityAgent none: the user's ssh-agent stays out).
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
from pathlib import Path

from server_process import ServerProcess

START_TIMEOUT_S = 15.0
HOST_ALIAS = "obsview-test-server"
_LISTENING = re.compile(rb"Server listening on 127\.0\.0\.1 port (\d+)")


def find_sshd() -> str | None:
    return shutil.which("sshd") or next(
        (path for path in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(path, os.X_OK)), None)


def keygen(path: Path) -> str:
    """An ed25519 key pair without passphrase; returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "obsview-test", "-f", str(path)],
                   check=True, timeout=30)
    return path.with_suffix(".pub").read_text(encoding="ascii").strip()


class PrivateSshd(ServerProcess):
    def __init__(self, sshd: str, workdir: Path, port: int) -> None:
        super().__init__()
        self.sshd, self.dir, self.port = sshd, workdir, port
        self.user = getpass.getuser()
        self.host_key_pub = keygen(workdir / "host_key")
        self.client_key = workdir / "id_ed25519"
        self.client_key_pub = keygen(self.client_key)
        (workdir / "authorized_keys").write_text(self.client_key_pub + "\n", encoding="ascii")
        self.known_hosts = workdir / "known_hosts"
        self.trust(self.host_key_pub)
        self.client_config = workdir / "ssh_config"
        self.write_client_config(self.client_key)

    @property
    def command(self) -> list[str]:
        """The ssh command a tunnel runs: the system ssh with this test's config."""
        return ["ssh", "-F", str(self.client_config)]

    def trust(self, host_key_line: str) -> None:
        key_type, key = host_key_line.split()[:2]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {key_type} {key}\n", encoding="ascii")

    def write_client_config(self, identity: Path) -> None:
        self.client_config.write_text(
            f"Host {HOST_ALIAS}\n"
            f"  HostName 127.0.0.1\n  Port {self.port}\n  User {self.user}\n"
            f"  IdentityFile {identity}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
            f"  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
            f"  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
            encoding="ascii",
        )

    async def start(self) -> None:
        config = self.dir / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir / 'host_key'}\n"
            f"PidFile {self.dir / 'sshd.pid'}\nAuthorizedKeysFile {self.dir / 'authorized_keys'}\n"
            "StrictModes no\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nAllowTcpForwarding yes\n"
            "PermitRootLogin prohibit-password\nLogLevel VERBOSE\n",
            encoding="ascii",
        )
        if os.geteuid() == 0:
            # sshd started by root insists on its privilege separation directory.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        await self.launch([self.sshd, "-D", "-e", "-f", str(config)], _LISTENING, START_TIMEOUT_S)
