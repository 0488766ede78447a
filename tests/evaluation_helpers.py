"""A tiny walk-forward spec, and a real two-node Ray cluster started on this machine."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from orchestrator.evaluation import EvaluationSpec, build_spec

TINY_TRAINING: dict[str, Any] = {
    "n_envs": 4,
    "episode_length": 64,
    "net_arch": [16],
    "eval_freq": 256,
    "checkpoint_freq": 256,
    "calibration_bars": 120,
    "dqn": {
        "learning_starts": 64,
        "buffer_size": 2000,
        "batch_size": 32,
        "target_update_interval": 64,
    },
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 2},
}
RAY = Path(sys.executable).parent / "ray"


def tiny_spec(**changes: Any) -> EvaluationSpec:
    """Synthetic bars 2005-2008: one test year (2008, validated on 2007), two seeds of a DQN of
    512 steps, three strategies: seconds a cell."""
    options: dict[str, Any] = {
        "data": "synthetic",
        "algo": "dqn",
        "seeds": "0,1",
        "windows": "2008",
        "end": "2008",
        "timesteps": 512,
        "min_train_years": 2,
        "strategies": ["buy_and_hold", "drl", "hybrid_learned"],
        "training": TINY_TRAINING,
    }
    return build_spec(options | changes)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _node_ports() -> list[str]:
    """Every port a node listens on, free ones, so that two nodes share this machine."""
    names = (
        "node-manager-port",
        "object-manager-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "metrics-export-port",
        "runtime-env-agent-port",
    )
    return [f"--{name}={_free_port()}" for name in names]


@contextmanager
def two_node_cluster() -> Iterator[str]:
    """A Ray head and a second node joining it (`ray start --block`, one CPU each, their own
    temp folder and ports, token authentication off as on a private network); yields the
    head's address, then stops both nodes (their process groups: nothing else on the machine)."""
    import ray

    folder = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # socket paths must stay short
    environment = os.environ | {"RAY_AUTH_MODE": "disabled"}
    common = ["--num-cpus=1", "--block", "--disable-usage-stats", f"--temp-dir={folder}"]
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> None:
        nodes.append(
            subprocess.Popen(
                [str(RAY), "start", *args, *common, *_node_ports()],
                env=environment,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    try:
        start("--head", f"--port={port}", "--include-dashboard=false")
        _wait_for_port(port)
        start(f"--address={address}")
        ray.init(address=address, log_to_driver=False)
        try:
            deadline = time.monotonic() + 60
            while sum(node["Alive"] for node in ray.nodes()) < 2:
                assert time.monotonic() < deadline, "the second Ray node never joined"
                time.sleep(0.5)
        finally:
            ray.shutdown()
        yield address
    finally:
        _stop(nodes)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(nodes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each node's process group, a few seconds' grace, then SIGKILL to what is left
    of the group (Ray's own processes can outlive `ray start`)."""
    for node in nodes:
        _signal_group(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for node in nodes:
        with suppress(subprocess.TimeoutExpired):
            node.wait(max(0.1, deadline - time.monotonic()))
    for node in nodes:
        _signal_group(node.pid, signal.SIGKILL)
        node.wait()


def _signal_group(group: int, number: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(group, number)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the Ray head never listened"
            time.sleep(0.3)
