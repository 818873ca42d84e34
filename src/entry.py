"""How every entry script ends: an expected failure (bad input, a missing file or device, a diverging loss) is
one line naming the script and the problem, with a non-zero exit status, not a traceback."""
import os
import sys

EXPECTED_ERRORS = (ValueError, OSError, RuntimeError, FloatingPointError)


def run_entry(main):
    try:
        main()
    except EXPECTED_ERRORS as error:
        raise SystemExit(f"{os.path.basename(sys.argv[0])}: {error}") from None
