"""The harness's own Python environment: a venv under ~/.cache/weir/bench-venv with the Kafka
client and the peer frameworks, created on first use (stdlib only, so it runs before them)."""

import os
import subprocess
import sys
from pathlib import Path

# confluent-kafka brings a current librdkafka (Debian's kcat cannot talk to tansu).
REQUIREMENTS = (
    "confluent-kafka>=2.6,<3",
    "quixstreams>=3,<4",
    "faust-streaming>=0.15,<0.16",
)
VENV = Path(os.environ.get("WEIR_CACHE_DIR", Path.home() / ".cache" / "weir")) / "bench-venv"
STAMP = VENV / "requirements.txt"


def python() -> Path:
    return VENV / "bin" / "python"


def inside() -> bool:
    """True when this interpreter is the venv's."""
    return Path(sys.prefix).resolve() == VENV.resolve()


def ready() -> bool:
    return python().exists() and STAMP.exists() and STAMP.read_text() == "\n".join(REQUIREMENTS)


def create() -> None:
    """Creates the venv and installs REQUIREMENTS into it, printing what it installs."""
    print(f"bench: creating {VENV} and installing {', '.join(REQUIREMENTS)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python()), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", *REQUIREMENTS], check=True)
    STAMP.write_text("\n".join(REQUIREMENTS))
    versions = "\n".join(f"  {name}=={version}" for name, version in installed().items())
    print(f"bench: installed into {VENV}:\n{versions}", flush=True)


def installed() -> dict[str, str]:
    """Versions of the harness's packages and of what they pulled in that matters."""
    names = ("confluent-kafka", "quixstreams", "faust-streaming", "rocksdict", "aiokafka", "mode-streaming")
    out = subprocess.run(
        [str(python()), "-m", "pip", "--disable-pip-version-check", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pairs = (line.split("==", 1) for line in out.splitlines() if "==" in line)
    return {name: version for name, version in pairs if name.lower() in names}


def reexec_inside() -> None:
    """Runs this script again with the venv's interpreter (creating the venv first if needed)."""
    if inside():
        return
    if not ready():
        create()
    os.execv(str(python()), [str(python()), *sys.argv])
