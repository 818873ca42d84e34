"""Write the HMDB51 annotation JSONs hmdb51_1.json .. hmdb51_3.json (the upstream tool's arguments and output).

    python src/tools/hmdb51_json.py SPLIT_DIR FRAMES_DIR DST_DIR [--splits 1 2 3]

SPLIT_DIR holds the official split files <class>_test_split<k>.txt, each line '<video>.avi <id>' with id 1 for
training, 2 for validation (HMDB51's "test") and 0 for videos the split does not use (left out). FRAMES_DIR is the
RGB frame tree <class>/<video>/image_00001.jpg ...; a video's segment is [1, n + 1] for its n frames.
Every problem (bad line, missing or gappy frame folder, empty split file) is reported at the end; the JSONs are
still written without the affected videos and the tool exits with status 1.
"""
import sys

try:
    from . import _bootstrap  # noqa: F401
    from ._annotation_cli import annotation_main
except ImportError:
    import _bootstrap  # noqa: F401
    from _annotation_cli import annotation_main


def main(argv=None):
    return annotation_main("hmdb51", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
