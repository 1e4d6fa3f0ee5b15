"""The pinned JS SDK for the node and browser recipes: ``npm ci`` from the committed lockfile.

``tests/e2e/node/package-lock.json`` pins ``@openai/agents-realtime`` 0.20.0 (the version the
transport ports); it is installed into ``tests/e2e/node/node_modules`` (git-ignored) once, and
again only when the lockfile changes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

NODE_PROJECT = Path(__file__).resolve().parent / "node"
NODE_MODULES = NODE_PROJECT / "node_modules"


def node_missing() -> str | None:
    """Why the node recipes cannot run here, or ``None`` if they can."""
    if shutil.which("node") is None:
        return "node is not installed (the JS SDK recipe runs @openai/agents-realtime under node)"
    if shutil.which("npm") is None:
        return "npm is not installed (needed to install @openai/agents-realtime 0.20.0)"
    return None


def install_js_sdk() -> Path:
    """``npm ci`` the pinned SDK (once per lockfile); the ``node_modules`` folder."""
    lock = (NODE_PROJECT / "package-lock.json").read_text(encoding="utf-8")
    stamp = NODE_MODULES / ".installed-from-lock"
    marker = NODE_MODULES / "@openai" / "agents-realtime" / "package.json"
    if marker.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == lock:
        return NODE_MODULES
    env = dict(os.environ, npm_config_fund="false", npm_config_audit="false")
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {NODE_PROJECT}:\n{done.stdout}\n{done.stderr}")
    stamp.write_text(lock, encoding="utf-8")
    return NODE_MODULES


async def run_bounded(
    argv: list[str], cwd: Path, timeout: float, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``argv`` in ``cwd``; its status, stdout and stderr. Killed past ``timeout``."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(os.environ, **(env or {})),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
