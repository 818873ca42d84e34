"""Run exported models on numpy clips: MINDIR with MindSpore, ONNX with ONNX Runtime. Used to verify exports,
by eval.py / eval_onnx.py (an exported file evaluates exactly like a checkpoint) and by the benchmarks."""
import os

import numpy as np

from ..context import DeviceUnavailableError

ONNX_PROVIDERS = {"CPU": "CPUExecutionProvider", "GPU": "CUDAExecutionProvider"}


class ExportedModel:
    """Callable numpy clips (N, C, T, H, W) float32 -> logits (N, classes), for any N.

    A model exported with a fixed batch B (ONNX always: MindSpore's ONNX export of BatchNorm needs one) runs
    the clips in chunks of B, the last one padded with copies of its last clip whose scores are dropped.
    `batch_size` sets B for a MINDIR (it does not record its batch); None passes batches through as they come.
    """

    def __init__(self, path, device_target="CPU", device_id=0, batch_size=None):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: exported model not found")
        self.path = path
        if path.endswith(".onnx"):
            self._run, self.input_shape = self._onnx_session(path, device_target, device_id)
            fixed = self.input_shape[0]
            self.batch_size = fixed if isinstance(fixed, int) else batch_size
        elif path.endswith(".mindir"):
            import mindspore as ms
            from ..models.cpu_kernels import require_capped_onednn
            require_capped_onednn(f"the MINDIR model {path}")
            graph = ms.nn.GraphCell(ms.load(path))
            self._run = lambda clips: graph(ms.Tensor(clips)).asnumpy()
            self.input_shape, self.batch_size = None, batch_size
        else:
            raise ValueError(f"{path}: can only run .mindir (MindSpore) or .onnx (ONNX Runtime) files")

    @staticmethod
    def _onnx_session(path, device_target, device_id):
        import onnxruntime
        if device_target not in ONNX_PROVIDERS:
            raise ValueError(f"ONNX Runtime runs on CPU or GPU, not {device_target}: export MINDIR for Ascend")
        provider = ONNX_PROVIDERS[device_target]
        if provider not in onnxruntime.get_available_providers():
            raise DeviceUnavailableError(f"this onnxruntime has no {provider} (the pinned package is the CPU build; "
                                         "install onnxruntime-gpu for --device_target GPU)")
        options = [{"device_id": device_id}] if device_target == "GPU" else None
        session = onnxruntime.InferenceSession(path, providers=[provider], provider_options=options)
        model_input = session.get_inputs()[0]
        return (lambda clips: session.run(None, {model_input.name: clips})[0]), list(model_input.shape)

    def _check(self, clips):
        if self.input_shape is None:
            return
        expected = self.input_shape[1:]
        if len(clips.shape) != len(self.input_shape) or any(
                isinstance(e, int) and e != a for e, a in zip(expected, clips.shape[1:])):
            raise ValueError(f"{self.path} takes clips of shape {self.input_shape}, got {list(clips.shape)}: "
                             "evaluate with the sample_duration / spatial_size / mode it was exported for")

    def __call__(self, clips):
        clips = np.ascontiguousarray(clips, np.float32)
        self._check(clips)
        step = self.batch_size or len(clips)
        outputs = []
        for start in range(0, len(clips), step):
            chunk = clips[start:start + step]
            count = len(chunk)
            if count < step:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], step - count, axis=0)])
            outputs.append(np.asarray(self._run(chunk))[:count])
        return np.concatenate(outputs)
