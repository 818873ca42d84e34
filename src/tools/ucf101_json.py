"""Write the UCF101 annotation JSONs ucf101_01.json .. ucf101_03.json (the upstream tool's arguments and output).

    python src/tools/ucf101_json.py SPLIT_DIR FRAMES_DIR DST_DIR [--splits 1 2 3]

SPLIT_DIR is the official ucfTrainTestlist folder: classInd.txt ('1 ApplyEyeMakeup': the label order),
trainlist0<k>.txt ('<class>/<video>.avi <id>': training) and testlist0<k>.txt ('<class>/<video>.avi':
validation). FRAMES_DIR is the RGB frame tree <class>/<video>/image_00001.jpg ...; a video's segment is
[1, n + 1] for its n frames. Every problem (bad line, unknown class, missing or gappy frame folder) is reported
at the end; the JSONs are still written without the affected videos and the tool exits with status 1.
"""
import sys

try:
    from . import _bootstrap  # noqa: F401
    from ._annotation_cli import annotation_main
except ImportError:
    import _bootstrap  # noqa: F401
    from _annotation_cli import annotation_main


def main(argv=None):
    return annotation_main("ucf101", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
