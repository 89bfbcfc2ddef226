"""The peers fastconv is measured against: torch, ONNX Runtime, OpenCV, numpy's BLAS,
scipy.ndimage (the image filters); their
versions and their thread counts (set for the run, restored after it)."""
import platform

import numpy as np

from .._config import __version__


PEERS = ("torch", "onnxruntime", "opencv", "numpy", "scipy")
# fastconv's own calls a row is compared with as a peer is: beside a conv2d layout="NHWC" row,
# the NCHW call of the same layer ("nchw": NCHW time / NHWC time, > 1: channels last faster)
BASELINES = ("nchw",)


class Peers:
    """The peers that are installed, with their thread counts set to `threads` (None: leave
    them alone).  `reason[name]` says why a peer is absent."""

    def __init__(self, threads=None):
        self.torch = self.cv2 = self.ort = self.ndimage = None
        self.reason = {}
        self._restore = []
        self.threads = threads
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
        try:
            import scipy
            import scipy.ndimage
            self.ndimage, self._scipy_version = scipy.ndimage, scipy.__version__
        except Exception as exc:
            self.reason["scipy"] = f"not installed ({type(exc).__name__})"
        try:
            import onnx
            import onnxruntime
            self.ort, self._onnx = onnxruntime, onnx
        except Exception as exc:
            self.reason["onnxruntime"] = f"not installed ({type(exc).__name__})"
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

    def ort_conv(self, x, weight, bias, stride, padding, dilation, groups, relu=False):
        """ONNX Runtime running conv2d(x, weight, bias) (+ relu) as users deploy it: a graph of
        one Conv node (and a Relu, which ORT fuses into it) with the weights as initializers,
        all graph optimisations on, `threads` intra-op threads (its default otherwise: one per
        core).  Returns a zero-argument callable giving the output."""
        onnx, ort = self._onnx, self.ort
        helper, TensorProto = onnx.helper, onnx.TensorProto
        ph, pw = padding
        y_shape = [x.shape[0], weight.shape[0], None, None]
        conv = helper.make_node("Conv", ["x", "w", "b"], ["conv" if relu else "y"],
                                strides=[stride, stride], pads=[ph, pw, ph, pw],
                                dilations=[dilation, dilation], group=groups,
                                kernel_shape=list(weight.shape[2:]))
        nodes = [conv] + ([helper.make_node("Relu", ["conv"], ["y"])] if relu else [])
        graph = helper.make_graph(
            nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
            [onnx.numpy_helper.from_array(weight, "w"), onnx.numpy_helper.from_array(bias, "b")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        if self.threads is not None:
            options.intra_op_num_threads = self.threads
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        feed = {"x": x}
        return lambda: session.run(None, feed)[0]

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
        versions["onnxruntime"] = self.ort.__version__ if self.ort is not None else None
        versions["scipy"] = self._scipy_version if self.ndimage is not None else None
        return versions
