"""The query encoder without torch: all-MiniLM-L6-v2 exported to ONNX, run by ONNX Runtime.

Encoding one query with sentence-transformers means importing torch (6-13 s and ~590 MB on
this project's 2 cores); the same transformer exported to ONNX answers in a few milliseconds
from a process of ~150 MB. The export is written at index build time by the code that has
torch loaded anyway (:mod:`mlsd.query_export`) into a folder beside the index, named in the
index's manifest with the sha256 of each file::

    query-<sha12>/model.onnx         the graph, pre-optimized by ONNX Runtime (level "extended")
    query-<sha12>/model.onnx.data    its weights, memory-mapped (shared between processes)
    query-<sha12>/tokenizer.json     the model's own tokenizer

It reproduces sentence-transformers exactly (cosine >= 0.9999 per vector, tested on the
bundled corpus and the benchmark queries): the same WordPiece tokens (the tokenizer file says
128 tokens padded to 128; sentence-transformers truncates at ``max_seq_length`` 256, longest
first, and pads a batch to its longest text, and so does this), mean pooling over the
attention mask, L2 normalization. One forward pass gives both the sentence vector and the
query's token vectors for the late-interaction rerank (:mod:`mlsd.rerank`).

Nothing here imports torch, transformers or sentence-transformers; onnxruntime and tokenizers
are imported when an encoder is opened. Any problem (a file missing or not matching its
sha256, another onnxruntime version than the one that optimized the graph, a graph that does
not load) raises :class:`~mlsd.errors.QueryModelError`, and search falls back to
sentence-transformers and exports the model again (:func:`mlsd.search.open_engine`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .embed import DIMENSION, MODEL_NAME
from .errors import QueryModelError
from .stamps import sha256_matches

GRAPH = "model.onnx"
WEIGHTS = "model.onnx.data"
TOKENIZER = "tokenizer.json"
FILES = (GRAPH, WEIGHTS, TOKENIZER)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
FOLDER_PATTERN = re.compile(r"query-[0-9a-f]{12}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NORM_EPS = 1e-12  # torch.nn.functional.normalize's eps (sentence-transformers' Normalize)
_POOL_EPS = 1e-9  # sentence-transformers' Pooling clamps the token count to this


def l2_normalize(rows: np.ndarray) -> np.ndarray:
    """Rows divided by max(norm, 1e-12), as ``torch.nn.functional.normalize`` does."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return (rows / np.maximum(norms, _NORM_EPS)).astype(np.float32, copy=False)


def onnxruntime_version() -> str | None:
    """The installed onnxruntime's version (None when not installed).

    From the module itself, which the query path imports next anyway: ``importlib.metadata``
    took ~25 ms of a cold search to import and scan the installed distributions.
    """
    try:
        import onnxruntime
    except ModuleNotFoundError:
        return None
    return str(onnxruntime.__version__)


def check_entry(entry: object, folder: Path) -> Path:
    """The model folder a manifest's ``query_model`` entry names, its form checked.

    Raises:
        QueryModelError: the entry is missing or malformed.
    """
    if not isinstance(entry, dict):
        raise QueryModelError("the index has no exported query model")
    name, files = entry.get("folder"), entry.get("files")
    if not isinstance(name, str) or not FOLDER_PATTERN.fullmatch(name):
        raise QueryModelError("the manifest's query model entry names no valid folder")
    if not isinstance(files, dict) or set(files) != set(FILES) or not all(
            isinstance(v, str) and _SHA256.fullmatch(v) for v in files.values()):
        raise QueryModelError("the manifest's query model entry does not list its files with their sha256")
    if entry.get("model") != MODEL_NAME or not isinstance(entry.get("max_length"), int) or entry["max_length"] < 2:
        raise QueryModelError("the manifest's query model entry is for another model or has no token window")
    return folder / name


def verify_files(entry: object, folder: Path) -> Path:
    """Check the model's files against their recorded sha256 (reads ~90 MB, 0.1-0.3 s, unless the
    files are unchanged since the last check: :mod:`mlsd.stamps`).

    Returns:
        The model folder.

    Raises:
        QueryModelError: a file is missing, unreadable or changed, or the installed onnxruntime
            is not the one the graph was optimized by.
    """
    model_folder = check_entry(entry, folder)
    assert isinstance(entry, dict)  # checked above
    installed = onnxruntime_version()
    if installed is None:
        raise QueryModelError("onnxruntime is not installed")
    if entry.get("onnxruntime") != installed:
        raise QueryModelError(f"the query model was optimized by onnxruntime {entry.get('onnxruntime')}, "
                              f"{installed} is installed")
    for name, sha in entry["files"].items():
        path = model_folder / name
        try:
            if not sha256_matches(path, sha):  # read in full unless stamped unchanged (mlsd.stamps)
                raise QueryModelError(f"the query model file {name} is damaged (its sha256 does not match the manifest)")
        except FileNotFoundError:
            raise QueryModelError(f"the query model file {name} is missing") from None
        except OSError as exc:
            raise QueryModelError(f"the query model file {name} cannot be read ({exc.strerror or exc})") from None
    return model_folder


def session_options(ort: Any, optimization: str = "disable", threads: int = 1, prepack: bool = True) -> Any:
    """ONNX Runtime settings for 2 shared cores.

    One intra-op thread adds no worker thread and costs the least CPU per query; ONNX Runtime's
    defaults (a spinning thread per core) were 2.6x slower on this busy machine. The graph was
    optimized when it was written, so loading it with optimizations off halves session creation.

    Args:
        prepack: let ONNX Runtime repack the weights for its matrix kernels when the session is
            created. Measured: ~60 ms more CPU at creation, ~5 ms less per query (6.6 vs 11.5 ms
            CPU). A process that encodes one query (``mlsd search "..."``) does better without.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[optimization]
    options.log_severity_level = 3  # errors only: nothing on the command line's stderr
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not prepack:
        options.add_session_config_entry("session.disable_prepacking", "1")
    return options


class OnnxEncoder:
    """Sentence and token vectors of all-MiniLM-L6-v2 from its ONNX export. Thread-safe.

    Implements what search needs of an embedder (``name``, ``dimension``, ``load``, ``loaded``,
    ``encode``, ``encode_query``) plus ``encode_query_tokens`` and ``encode_with_tokens``.

    Args:
        folder: the model folder (``query-<sha12>``).
        max_length: the token window, ``[CLS]`` and ``[SEP]`` included (the manifest's).
        sha256: the folder's combined sha256, to tell two exports apart.
        prepack: see :func:`session_options` (False for a process that encodes a query or two).

    Raises:
        QueryModelError: onnxruntime or tokenizers is missing, or a file cannot be loaded.
    """

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, folder: Path, max_length: int, sha256: str = "", prepack: bool = True) -> None:
        self.folder = Path(folder)
        self.max_length = int(max_length)
        self.sha256 = sha256
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ModuleNotFoundError as exc:
            raise QueryModelError(f"{exc.name} is not installed") from None
        try:
            tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER))
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            raise QueryModelError(f"the query model's tokenizer cannot be read ({str(exc)[:200]})") from None
        # tokenizer.json pads every text to a fixed 128 and truncates at 128: sentence-transformers
        # truncates at max_seq_length (longest first) and pads a batch to its longest text.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_length, strategy="longest_first", direction="right")
        self._tokenizer = tokenizer
        try:
            session = ort.InferenceSession(str(self.folder / GRAPH), session_options(ort, prepack=prepack),
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / InvalidGraph
            raise QueryModelError(f"the query model cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})") from None
        inputs = {i.name for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        if inputs != set(INPUT_NAMES) or outputs[:1] != [OUTPUT_NAME] or session.get_outputs()[0].shape[-1] != DIMENSION:
            raise QueryModelError(f"the query model has inputs {sorted(inputs)} and outputs {outputs}, "
                                  f"not {list(INPUT_NAMES)} -> {OUTPUT_NAME}")
        self._session = session
        self._lock = threading.Lock()  # tokenizers' Tokenizer is not documented as thread-safe

    # -- the embedder interface ------------------------------------------------------------------
    def load(self) -> OnnxEncoder:
        return self

    @property
    def loaded(self) -> bool:
        return True

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Encode texts into an (n, 384) float32 array of unit vectors (input order kept)."""
        return self._encode(texts, batch_size, progress, with_tokens=False)[0]

    def encode_with_tokens(self, texts: Sequence[str], batch_size: int = 32,
                           progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors and, from the same forward pass, each text's token vectors
        (without ``[CLS]``/``[SEP]``, L2-normalized)."""
        return self._encode(texts, batch_size, progress, with_tokens=True)

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query into a (1, 384) unit vector."""
        return self.encode_query_tokens(text)[0]

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass, no padding: the (1, 384) query vector and its (t, 384) token vectors
        (L2-normalized, without ``[CLS]``/``[SEP]``; t = 0 for a query of no tokens)."""
        hidden, mask, special = self._forward(self._tokenize([text]))
        keep = mask[0].astype(bool) & ~special[0]
        return self._pool(hidden, mask), l2_normalize(hidden[0][keep])

    # -- internals -------------------------------------------------------------------------------
    def _tokenize(self, texts: Sequence[str]) -> list[Any]:
        with self._lock:
            if len(texts) == 1:  # encode_batch would start the tokenizer's thread pool
                return [self._tokenizer.encode(str(texts[0]))]
            return self._tokenizer.encode_batch([str(t) for t in texts])

    def _forward(self, encodings: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pad a batch to its longest text and run the graph: (hidden states, mask, special tokens)."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        special = np.ones(ids.shape, dtype=bool)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, 1, e.type_ids
            special[row, :n] = np.asarray(e.special_tokens_mask, dtype=bool)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self._session.run([OUTPUT_NAME], feeds)[0], mask, special

    @staticmethod
    def _pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask.astype(np.float32)[:, :, None]
        summed = (hidden * weights).sum(axis=1)
        return l2_normalize(summed / np.maximum(weights.sum(axis=1), _POOL_EPS))

    def _encode(self, texts: Sequence[str], batch_size: int, progress: Callable[[int, int], None] | None,
                with_tokens: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        total = len(texts)
        out = np.zeros((total, DIMENSION), dtype=np.float32)
        tokens: list[np.ndarray] = [np.zeros((0, DIMENSION), dtype=np.float32)] * total if with_tokens else []
        if total == 0:
            return out, tokens
        encodings = self._tokenize(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")  # batches of similar length
        for start in range(0, total, batch_size):
            rows = order[start:start + batch_size]
            hidden, mask, special = self._forward([encodings[i] for i in rows])
            out[rows] = self._pool(hidden, mask)
            if with_tokens:
                for k, i in enumerate(rows):
                    keep = mask[k].astype(bool) & ~special[k]
                    tokens[i] = l2_normalize(hidden[k][keep])
            if progress is not None:
                progress(min(start + batch_size, total), total)
        return out, tokens


def open_query_encoder(entry: object, index_folder: Path, verify: bool = True, prepack: bool = True) -> OnnxEncoder:
    """The ONNX query encoder a manifest's ``query_model`` entry describes, checked.

    Args:
        entry: the manifest's ``query_model`` value.
        index_folder: the index folder the model folder lies in.
        verify: check every file's sha256 first (the default; reads ~90 MB unless stamped).
        prepack: see :func:`session_options`.

    Raises:
        QueryModelError: the model is missing, damaged, or cannot run here.
    """
    folder = verify_files(entry, index_folder) if verify else check_entry(entry, index_folder)
    assert isinstance(entry, dict)  # checked above
    return OnnxEncoder(folder, entry["max_length"], str(entry.get("sha256", "")), prepack=prepack)


def describe(entry: object) -> str:
    """One line about a manifest's query model entry, for ``mlsd build-index``."""
    if not isinstance(entry, dict):
        return "none"
    return json.dumps({k: entry.get(k) for k in ("folder", "onnxruntime", "export_seconds")})
