"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the services run real
CLI subcommands with real flags on one named volume, the environment names real settings, and the
nightly loop sleeps until 02:00 and then runs its command."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from storyclust.cli import build_parser
from storyclust.config import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
SERVICES = COMPOSE["services"]


def cli(command: list[str]):
    assert command[0] == "storyclust"
    return build_parser().parse_args(command[1:])


def mounts(service: dict) -> dict[str, str]:
    """Container path -> volume name."""
    return {target: source for source, target in (v.split(":")[:2] for v in service["volumes"])}


def test_api_serves_on_port_8000_from_the_data_volume():
    api = SERVICES["api"]
    args = cli(api["command"])
    assert (args.command, args.host, args.port, args.data_dir) == ("serve", "0.0.0.0", 8000, Path("/data"))
    assert "8000:8000" in api["ports"]
    assert "http://127.0.0.1:8000/healthz" in " ".join(api["healthcheck"]["test"])


def test_both_services_share_the_named_volume():
    assert set(SERVICES) == {"api", "recluster"}
    volume = mounts(SERVICES["api"])["/data"]
    assert volume in COMPOSE["volumes"], "a named volume, declared at the top level"
    assert mounts(SERVICES["recluster"])["/data"] == volume


def test_recluster_job_runs_the_real_subcommand_on_the_volume():
    args = cli(SERVICES["recluster"]["command"])
    assert (args.command, args.data_dir) == ("recluster", Path("/data"))
    assert Path(args.report).parent == Path("/data")


def test_environment_names_real_settings(monkeypatch):
    for service in SERVICES.values():
        for name, value in service["environment"].items():
            if not name.startswith("STORYCLUST_"):
                continue
            field = name.removeprefix("STORYCLUST_").lower()
            assert field in Settings.model_fields, name
            # Passed through from the host; unset, empty (the setting's default) or a default
            # that belongs to the container (a path on the data volume).
            default = re.fullmatch(rf"\$\{{{name}:-(|/data/[^}}]*)\}}", value)
            assert default, f"{name}: passed through from the host"
            monkeypatch.setenv(name, "from-env")
            assert getattr(Settings(), field) == "from-env"


def test_dockerfile_installs_cpu_torch_before_the_project_and_serves():
    runs = [line for line in DOCKERFILE.splitlines() if line.startswith("RUN pip install")]
    assert "torch==2.13.0" in runs[0] and "download.pytorch.org/whl/cpu" in runs[0]
    assert runs[-1].endswith("install -e .")
    command = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1)
    assert cli(yaml.safe_load(command)).command == "serve"
    assert (PROJECT_ROOT / SERVICES["api"]["build"] / "Dockerfile").exists()


@pytest.mark.skipif(subprocess.run(["date", "-d", "02:00"], capture_output=True).returncode != 0,
                    reason="needs GNU date, as in the image")
def test_nightly_loop_sleeps_until_two_then_runs_its_command(tmp_path):
    entrypoint = SERVICES["recluster"]["entrypoint"]
    script = entrypoint[2].replace("$$", "$")  # compose's escape for a literal $
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sleep").write_text(f"#!/bin/sh\necho \"$1\" > {shlex.quote(str(tmp_path / 'slept'))}\n")
    (fake / "sleep").chmod(0o755)
    job = ["sh", "-c", f"echo ran > {shlex.quote(str(tmp_path / 'ran'))}; kill $PPID"]  # ends the loop
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "TZ": "UTC"}
    subprocess.run([*entrypoint[:2], script, entrypoint[3], *job], env=env, timeout=20)
    slept = int((tmp_path / "slept").read_text())
    assert 0 < slept <= 86400
    seconds_after_two = (int(subprocess.check_output(["date", "+%s"], env=env)) + slept) % 86400 - 2 * 3600
    assert abs(seconds_after_two) <= 5, "wakes at 02:00"
    assert (tmp_path / "ran").read_text() == "ran\n"
