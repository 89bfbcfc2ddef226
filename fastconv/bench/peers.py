"""The peers fastconv is measured against: torch, OpenCV, numpy's BLAS; their versions and
their thread counts (set for the run, restored after it)."""
import platform

import numpy as np

from .._config import __version__


PEERS = ("torch", "opencv", "numpy")


class Peers:
    """The peers that are installed, with their thread counts set to `threads` (None: leave
    them alone).  `reason[name]` says why a peer is absent."""

    def __init__(self, threads=None):
        self.torch = self.cv2 = None
        self.reason = {}
        self._restore = []
        try:
            import torch
            self.torch = torch
        except Exception as exc:  # ImportError, or a broken install: never fail the benchmark
            self.reason["torch"] = f"not installed ({type(exc).__name__})"
        try:
            import cv2
            self.cv2 = cv2
        except Exception as exc:
            self.reason["opencv"] = f"not installed ({type(exc).__name__})"
        self.blas_threads = "unmanaged (threadpoolctl not installed)"
        if threads is not None:
            self._set_threads(threads)

    def _set_threads(self, threads):
        if self.torch is not None:
            self._restore.append((self.torch.set_num_threads, self.torch.get_num_threads()))
            self.torch.set_num_threads(threads)
        if self.cv2 is not None:
            self._restore.append((self.cv2.setNumThreads, self.cv2.getNumThreads()))
            self.cv2.setNumThreads(threads)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        limits = threadpool_limits(limits=threads, user_api="blas")
        self._restore.append((lambda _: limits.restore_original_limits(), None))
        self.blas_threads = threads

    @staticmethod
    def blas():
        """The BLAS libraries loaded (numpy's, torch's) and the kernel each chose, e.g.
        "openblas 0.3.31 Haswell" (threadpoolctl tells; OpenBLAS picks by CPU, and
        OPENBLAS_CORETYPE overrides it)."""
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return "unknown (threadpoolctl not installed)"
        return "; ".join(f"{i.get('internal_api')} {i.get('version')} "
                         f"{i.get('architecture') or ''}".strip()
                         for i in threadpool_info() if i.get("user_api") == "blas")

    def restore(self):
        """Give the peers back the thread counts they had."""
        for setter, value in reversed(self._restore):
            setter(value)
        self._restore.clear()

    def versions(self):
        versions = {"fastconv": __version__, "python": platform.python_version(),
                    "numpy": np.__version__}
        versions["torch"] = self.torch.__version__ if self.torch is not None else None
        versions["opencv"] = self.cv2.__version__ if self.cv2 is not None else None
        return versions
