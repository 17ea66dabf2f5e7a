"""The standard HTTP request methods (RFC 9110 and PATCH), the one list every stage checks.

Methods come from untrusted log lines: anything outside this list is not a method label of
its own (metrics bound their label set with it, the normalizer keeps only these). Standard
library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

HTTP_METHODS: Final[Mapping[str, str]] = {
    name: name for name in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE")
}
"""Each method → its one shared string: 100k buffered events then hold pointers, not copies."""
