"""Export the packaged model to ONNX for the torch-free query encoder (build time only).

Runs in the process that builds the index, which has sentence-transformers (and so torch)
loaded to encode the items. Steps, all in a private staging folder beside the index:

1. ``torch.onnx.export`` of the model's transformer (inputs ``input_ids``, ``attention_mask``,
   ``token_type_ids``; output ``last_hidden_state``; dynamic batch and sequence axes; opset 17;
   the TorchScript exporter, which needs ``onnx`` but not ``onnxscript`` and writes the same
   bytes every time), checked against torch on a padded batch (max abs difference <= 1e-4);
2. ONNX Runtime's graph optimizations (level "extended", which bakes in no CPU-specific
   layout) saved with the weights in a separate ``.data`` file that ONNX Runtime memory-maps:
   loading it later skips the optimizer (session creation 40 ms of CPU instead of 95 ms) and
   the weights pages are shared by every process that loads them;
3. the model's ``tokenizer.json`` copied beside it, the result checked once more (the saved
   model against torch), every file hashed, and the folder renamed to ``query-<sha12>``.

The warnings the exporter prints (a deprecation notice, tracer warnings about shape checks that
are constant for an encoder) are silenced: the two checks above are what vouch for the file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .embed import MODEL_NAME
from .errors import QueryModelError
from .manifest import file_sha256
from .query_encoder import (
    FILES,
    GRAPH,
    INPUT_NAMES,
    OUTPUT_NAME,
    TOKENIZER,
    WEIGHTS,
    onnxruntime_version,
    session_options,
)

OPSET = 17
MAX_ABS_DIFF = 1e-4
CHECK_TEXTS = ["an example sentence, longer than the other one, about cold start in recommendations", "short"]


def export_query_model(model: Any, model_folder: Path, index_folder: Path) -> dict:
    """Export a loaded SentenceTransformer into ``index_folder/query-<sha12>``.

    Args:
        model: the loaded ``sentence_transformers.SentenceTransformer`` (all-MiniLM-L6-v2).
        model_folder: the packaged model's folder (for ``tokenizer.json``).
        index_folder: the index folder.

    Returns:
        The manifest's ``query_model`` entry: folder, files with their sha256, combined sha256,
        token window, onnxruntime version, export time.

    Raises:
        QueryModelError: onnx or onnxruntime is missing, or the export or a check failed.
    """
    started = time.perf_counter()
    version = onnxruntime_version()
    if version is None:
        raise QueryModelError("onnxruntime is not installed: the query model cannot be exported")
    staging = index_folder / f".query-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        raw = staging / "raw"
        raw.mkdir()
        features, expected = _export_raw(model, raw / GRAPH)
        _optimize(raw / GRAPH, staging / GRAPH)
        shutil.rmtree(raw)
        shutil.copyfile(model_folder / TOKENIZER, staging / TOKENIZER)
        _compare(staging / GRAPH, features, expected, optimized=True)
        files = {name: file_sha256(staging / name) for name in FILES}
        combined = hashlib.sha256("".join(files[name] for name in FILES).encode("ascii")).hexdigest()
        final = index_folder / f"query-{combined[:12]}"
        for name in FILES:  # onnx writes its files 0600: the index's other files are 0644
            os.chmod(staging / name, 0o644)
        _publish(staging, final, files)
    except QueryModelError:
        raise
    except Exception as exc:  # torch, onnx and onnxruntime raise many types: all mean "no ONNX model"
        raise QueryModelError(f"the query model could not be exported ({type(exc).__name__}: {str(exc)[:300]})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "folder": final.name, "files": files, "sha256": combined, "model": MODEL_NAME,
        "max_length": int(model.max_seq_length), "onnxruntime": version,
        "export_seconds": round(time.perf_counter() - started, 2),
    }


def _publish(staging: Path, final: Path, files: dict[str, str]) -> None:
    """Move the checked export into place. The export is deterministic, so ``final`` may exist
    already: kept when its files are intact, replaced when one was damaged or deleted."""
    if final.is_dir():
        try:
            if all(file_sha256(final / name) == sha for name, sha in files.items()):
                return
        except OSError:
            pass
        trash = final.with_name(f"{staging.name}-damaged")
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(staging, final)
    except OSError:
        if not final.is_dir():  # else another process published the same export meanwhile
            raise


def _export_raw(model: Any, path: Path) -> tuple[dict, np.ndarray]:
    """The TorchScript export of the transformer; returns the check batch and torch's output."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001 - traced
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    wrapper = LastHiddenState(model[0].auto_model).eval()
    tokenize = getattr(model, "preprocess", None) or model.tokenize  # tokenize is deprecated in ST 6
    tokenized = tokenize(CHECK_TEXTS)
    args = tuple(tokenized[name] for name in INPUT_NAMES)
    if int(args[1].min()) != 0:  # the traced graph must keep the attention-mask path
        raise QueryModelError("the export's example batch has no padding")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, args, str(path), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
        expected = wrapper(*args).numpy()
    features = {name: tensor.numpy().astype(np.int64) for name, tensor in zip(INPUT_NAMES, args)}
    _compare(path, features, expected, optimized=False)
    return features, expected


def _optimize(source: Path, target: Path) -> None:
    """ONNX Runtime's "extended" graph optimizations, saved with external weights."""
    import onnxruntime as ort

    options = session_options(ort, optimization="extended")
    options.optimized_model_filepath = str(target)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", WEIGHTS)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _compare(path: Path, features: dict, expected: np.ndarray, optimized: bool) -> None:
    import onnxruntime as ort

    options = session_options(ort, optimization="disable" if optimized else "all")
    got = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run([OUTPUT_NAME], features)[0]
    mask = features["attention_mask"].astype(bool)
    diff = float(np.abs(got[mask] - expected[mask]).max()) if got.shape == expected.shape else float("inf")
    if not diff <= MAX_ABS_DIFF:
        raise QueryModelError(f"the exported query model differs from the model (max abs diff {diff:.2e})")
