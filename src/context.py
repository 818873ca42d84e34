"""Select the device and execution mode, with a clear message when the hardware is absent."""
import mindspore as ms

MODES = {"graph": ms.GRAPH_MODE, "pynative": ms.PYNATIVE_MODE}


class DeviceUnavailableError(RuntimeError):
    pass


def device_available(device_target):
    try:
        return bool(ms.hal.is_available(device_target))
    except Exception:  # an unknown target name, or a backend that fails to load
        return False


def require_device(device_target, purpose="this run"):
    if not device_available(device_target):
        raise DeviceUnavailableError(
            f"{purpose} needs device_target={device_target}, but this MindSpore installation cannot use it "
            f"here (no {device_target} device or driver). Use --device_target CPU, or run on a machine with "
            f"{device_target} and the matching MindSpore package.")


def init_context(device_target="CPU", device_id=0, mode="graph"):
    """Set the MindSpore device and mode; fail early and clearly if the device is missing."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got '{mode}'")
    require_device(device_target)
    try:
        ms.set_device(device_target, None if device_target == "CPU" else device_id)
    except RuntimeError:
        # The device is fixed once the first kernel ran; calling again in the same process (tests, a
        # notebook) is fine as long as it asks for the same device.
        if ms.get_context("device_target") != device_target:
            raise
    ms.set_context(mode=MODES[mode])
