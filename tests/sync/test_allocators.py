"""A sync's Arrow buffers go back to the system allocator unless the user
chose another pool; checked in fresh interpreters, as the choice is made once
per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "from klaviyo_connector.memory import tune_allocators\n"
    "tune_allocators()\n"
    "import pyarrow as pa\n"
    "print(pa.default_memory_pool().backend_name)\n"
)


def _pool(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_arrow_uses_the_system_allocator_by_default() -> None:
    assert _pool() == "system"


def test_a_pool_the_user_chose_is_kept() -> None:
    import pyarrow as pa

    others = [
        p for p in ("mimalloc", "jemalloc") if p in pa.supported_memory_backends()
    ]
    if not others:
        pytest.skip("this pyarrow has no allocator besides the system one")
    assert _pool(ARROW_DEFAULT_MEMORY_POOL=others[0]) == others[0]
