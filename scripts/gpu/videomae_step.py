"""The PyTorch side of scripts/gpu-check.sh: VideoMAE's ViT-B pretraining step written the way the
reference code is (tubelet 2x16x16 patch embedding, fixed sin-cos positions, 12 blocks of 768 with
q/v biases, 90% tube masking, a 4-block 384-wide decoder, per-patch-normalised pixel targets, AdamW),
with scaled_dot_product_attention, bf16 autocast, on clips already on the GPU; eager and
torch.compile. Prints one markdown row per setting: clips/s of training steps and peak memory
(torch.cuda.max_memory_allocated), the definition of ANCHORS.md.

  python3 scripts/gpu/videomae_step.py [--batches 32,64] [--steps 20] [--warmup 5] [--compile]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sincos_table(n, dim):
    position = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = position / torch.pow(10000, 2 * (i // 2) / dim)
    table = torch.zeros(n, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()[None]


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VideoMAE(nn.Module):
    def __init__(self, frames=16, size=224, dim=768, depth=12, heads=12, ddim=384, ddepth=4, dheads=6):
        super().__init__()
        self.tokens = (frames // 2) * (size // 16) ** 2
        self.patch_embed = nn.Conv3d(3, dim, (2, 16, 16), (2, 16, 16))
        self.register_buffer("pos", sincos_table(self.tokens, dim), persistent=False)
        self.register_buffer("dpos", sincos_table(self.tokens, ddim), persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.to_decoder = nn.Linear(dim, ddim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
        self.decoder = nn.ModuleList(Block(ddim, dheads) for _ in range(ddepth))
        self.dnorm = nn.LayerNorm(ddim, eps=1e-6)
        self.head = nn.Linear(ddim, 2 * 16 * 16 * 3)

    def forward(self, video, mask):  # mask: bool [B, tokens], True = masked, the same count per clip
        B = video.shape[0]
        x = self.patch_embed(video).flatten(2).transpose(1, 2) + self.pos
        C = x.shape[-1]
        x = x[~mask].reshape(B, -1, C)
        for block in self.blocks:
            x = block(x)
        x = self.to_decoder(self.norm(x))
        pos = self.dpos.expand(B, -1, -1)
        visible = x + pos[~mask].reshape(B, -1, x.shape[-1])
        masked = self.mask_token + pos[mask].reshape(B, -1, x.shape[-1])
        x = torch.cat([visible, masked], 1)
        for block in self.decoder:
            x = block(x)
        return self.head(self.dnorm(x[:, -masked.shape[1]:]))


def pixel_targets(video, mask):
    B, C, T, H, W = video.shape
    tubes = video.reshape(B, C, T // 2, 2, H // 16, 16, W // 16, 16).permute(0, 2, 4, 6, 3, 5, 7, 1)
    tubes = tubes.reshape(B, -1, 2 * 16 * 16, C)
    tubes = (tubes - tubes.mean(-2, keepdim=True)) / (tubes.var(-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
    tubes = tubes.reshape(B, tubes.shape[1], -1)
    return tubes[mask].reshape(B, -1, tubes.shape[-1])


def tube_mask(batch, frames, side, ratio, device):
    per_frame = side * side
    keep = per_frame - int(ratio * per_frame)
    scores = torch.rand(batch, per_frame, device=device)
    masked = torch.ones(batch, per_frame, dtype=torch.bool, device=device)
    masked.scatter_(1, scores.argsort(1)[:, :keep], False)
    return masked.repeat(1, frames // 2)


def bench(batch, steps, warmup, compiled):
    torch.manual_seed(0)
    device = torch.device("cuda")
    model = VideoMAE().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05, fused=True)
    video = torch.randn(batch, 3, 16, 224, 224, device=device)
    mask = tube_mask(batch, 16, 14, 0.9, device)

    def loss_of(v, m):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            prediction = model(v, m)
        with torch.no_grad():
            target = pixel_targets(v, m)
        return F.mse_loss(prediction.float(), target)

    forward = torch.compile(loss_of) if compiled else loss_of

    def step():
        optimizer.zero_grad(set_to_none=True)
        forward(video, mask).backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated() / 2**30
    name = "PyTorch + torch.compile" if compiled else "PyTorch eager"
    print(f"| {name} | vit-b | videomae | {batch} | bf16 autocast | sdpa | {1000 * seconds:.1f} | "
          f"{batch / seconds:.1f} | {peak:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", default="32,64")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also with torch.compile")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print("| implementation | preset | recipe | batch | precision | attention | ms/step | clips/s | peak GPU GiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for compiled in ([False, True] if args.compile else [False]):
        for batch in map(int, args.batches.split(",")):
            bench(batch, args.steps, args.warmup, compiled)


if __name__ == "__main__":
    main()
