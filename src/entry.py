"""How every entry script ends: an expected failure (bad input, a missing file or device, a diverging loss) is
one line naming the script and the problem, with a non-zero exit status, not a traceback."""
import os
import sys

EXPECTED_ERRORS = (ValueError, OSError, RuntimeError, FloatingPointError)


def run_entry(main):
    try:
        main()
    except EXPECTED_ERRORS as error:
        raise SystemExit(f"{os.path.basename(sys.argv[0])}: {_user_message(error)}") from None


def _user_message(error):
    # A clip a data worker could not make reaches a device-sunk loop (ms.data_sink) as MindSpore's RuntimeError
    # with a traceback in its text; the marked message inside it is what the user needs.
    if isinstance(error, RuntimeError):
        from src.data.dataset import clip_source_message
        return clip_source_message(error) or error
    return error
