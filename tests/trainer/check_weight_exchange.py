"""Weights both ways between the trainer, VideoMAE's model code (videomae_reference.py) and Hugging
Face's transformers. Run by test_weight_exchange.cpp with the directory it prepared:
  config.json       the model's shape
  ours.pth          the input clip and mask, and the trainer's outputs on it
  pre.pth, ft_mean.pth, ft_first.pth        `trainer export` (VideoMAE's names)
  pre_hf/, ft_mean_hf/, ft_first_hf/, enc_hf/  `trainer export --format hf`
It checks that each export loads with strict=True (VideoMAE) / without missing or unexpected keys
(transformers) and gives the trainer's outputs, then writes checkpoints laid out as published ones
(py_*.pth, py_hf/) and the outputs they must give (py_outputs.pth) for the trainer to check.
"""
import argparse
import copy
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import videomae_reference as ref  # noqa: E402

from transformers import (VideoMAEConfig, VideoMAEForPreTraining,  # noqa: E402
                          VideoMAEForVideoClassification, VideoMAEModel)
from transformers.utils import logging as hf_logging  # noqa: E402

TOLERANCE = 1e-5  # relative to the largest value compared
failures = []


def compare(what, ours, theirs):
    scale = theirs.abs().max().item()
    error = (ours - theirs).abs().max().item() / max(scale, 1e-12)
    status = "ok" if error <= TOLERANCE else "FAIL"
    print(f"{status} {what}: max relative difference {error:.2e} (scale {scale:.3g})")
    if error > TOLERANCE:
        failures.append(what)


def load_hf(cls, path):
    model, info = cls.from_pretrained(path, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        print(f"FAIL {path}: {bad}")
        failures.append(path)
    return model.eval()


def stock_eps_note(model, norms, run):
    """HF's fc_norm and decoder norm use LayerNorm's default eps 1e-5, VideoMAE's 1e-6: the mapping is
    checked with VideoMAE's eps, and the difference the stock eps makes is printed."""
    stock = run()
    for norm in norms:
        norm.eps = ref.EPS
    exact = run()
    difference = (stock - exact).abs().max().item() / exact.abs().max().item()
    print(f"   (with transformers' stock eps 1e-5 in {len(norms)} norm(s): {difference:.2e} relative)")
    return exact


def hf_config(c, **extra):
    return VideoMAEConfig(image_size=c["img_size"], patch_size=c["patch"], num_frames=c["frames"],
                          tubelet_size=c["tubelet"], hidden_size=c["dim"], num_hidden_layers=c["depth"],
                          num_attention_heads=c["heads"], intermediate_size=int(c["dim"] * c["mlp_ratio"]),
                          decoder_hidden_size=c["decoder_dim"], decoder_num_hidden_layers=c["decoder_depth"],
                          decoder_num_attention_heads=c["decoder_heads"],
                          decoder_intermediate_size=int(c["decoder_dim"] * c["mlp_ratio"]), layer_norm_eps=ref.EPS,
                          **extra)


def main():
    hf_logging.set_verbosity_error()
    root = sys.argv[1]
    c = json.load(open(os.path.join(root, "config.json")))
    ours = torch.load(os.path.join(root, "ours.pth"))
    video, mask = ours["video"], ours["mask"].bool()
    hf_video = video.permute(0, 2, 1, 3, 4)  # transformers: [B, T, C, H, W]
    torch.set_grad_enabled(False)

    # 1. The trainer's exports in VideoMAE's model code, strict=True.
    pre = ref.PretrainVisionTransformer(c).eval()
    pre.load_state_dict(torch.load(os.path.join(root, "pre.pth"))["model"], strict=True)
    compare("VideoMAE pretraining model: encoder tokens", pre.encoder(video, torch.zeros_like(mask)),
            ours["tokens"])
    compare("VideoMAE pretraining model: pixel predictions of the masked tokens", pre(video, mask), ours["pixel"])
    for pooling, mean in (("mean", True), ("first", False)):
        ft = ref.VisionTransformer(c, c["classes"], use_mean_pooling=mean).eval()
        ft.load_state_dict(torch.load(os.path.join(root, f"ft_{pooling}.pth"))["model"], strict=True)
        compare(f"VideoMAE VisionTransformer ({pooling} pooling): features", ft.forward_features(video),
                ours[f"features_{pooling}"])
        compare(f"VideoMAE VisionTransformer ({pooling} pooling): logits", ft(video), ours[f"logits_{pooling}"])

    # 2. The Hugging Face exports in transformers.
    hf = load_hf(VideoMAEForPreTraining, os.path.join(root, "pre_hf"))
    pixel = stock_eps_note(hf, [hf.decoder.norm],
                           lambda: hf(pixel_values=hf_video, bool_masked_pos=mask).logits)
    compare("transformers VideoMAEForPreTraining: pixel predictions", pixel, ours["pixel"])
    for pooling in ("mean", "first"):
        hf = load_hf(VideoMAEForVideoClassification, os.path.join(root, f"ft_{pooling}_hf"))
        norms = [hf.fc_norm] if hf.fc_norm is not None else []
        logits = stock_eps_note(hf, norms, lambda: hf(pixel_values=hf_video).logits) if norms else \
            hf(pixel_values=hf_video).logits
        compare(f"transformers VideoMAEForVideoClassification ({pooling} pooling): logits", logits,
                ours[f"logits_{pooling}"])
    hf = load_hf(VideoMAEModel, os.path.join(root, "enc_hf"))
    compare("transformers VideoMAEModel (an MME run's encoder): tokens", hf(pixel_values=hf_video).last_hidden_state,
            ours["tokens_mme"])

    # 3. Checkpoints made the way VideoMAE's, MME's and MOFO's are published, and what they give.
    expected = {}
    ft = ref.perturb(ref.VisionTransformer(c, c["classes"]), seed=11).eval()
    expected["logits_ft"] = ft(video)
    state = copy.deepcopy(ft.state_dict())  # an OrderedDict with its _metadata attribute, kept from the step below
    torch.save(state, os.path.join(root, "py_bare.pth"))
    optimizer = torch.optim.AdamW(ft.parameters(), lr=1e-3)
    with torch.enable_grad():
        ft(video).sum().backward()
    optimizer.step()  # (so that its state holds tensors)
    args = argparse.Namespace(model="vit_tiny_patch16_224", lr=1e-3, layer_decay=0.75, num_frames=c["frames"],
                              mixup=0.8, aa="rand-m7-n4-mstd0.5-inc1", finetune="pretrain.pth")
    torch.save({"model": state, "optimizer": optimizer.state_dict(), "epoch": 29, "scaler": {"scale": 65536.0},
                "args": args}, os.path.join(root, "py_model.pth"))
    torch.save({"module": {"module." + k: v for k, v in state.items()}}, os.path.join(root, "py_module.pth"))
    first = ref.perturb(ref.VisionTransformer(c, c["classes"], use_mean_pooling=False), seed=12).eval()
    expected["logits_first"] = first(video)
    torch.save({"state_dict": first.state_dict(), "epoch": 3}, os.path.join(root, "py_first.pth"))
    pre = ref.perturb(ref.PretrainVisionTransformer(c), seed=13).eval()
    expected["tokens_pre"] = pre.encoder(video, torch.zeros_like(mask))
    expected["pixel_pre"] = pre(video, mask)
    torch.save({"model": pre.state_dict(), "args": args, "epoch": 799}, os.path.join(root, "py_pre.pth"))
    torch.manual_seed(14)
    hf = VideoMAEForVideoClassification(hf_config(c, num_labels=c["classes"], use_mean_pooling=True)).eval()
    ref.perturb(hf, seed=15)
    hf.save_pretrained(os.path.join(root, "py_hf"))
    hf.fc_norm.eps = ref.EPS  # the trainer's fc_norm, like VideoMAE's, uses 1e-6
    expected["logits_hf"] = hf(pixel_values=hf_video).logits
    torch.save(expected, os.path.join(root, "py_outputs.pth"))
    print("wrote py_bare.pth py_model.pth py_module.pth py_first.pth py_pre.pth py_hf/ py_outputs.pth")
    if failures:
        print("failed:", ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
