"""A ViT written to VideoMAE's definition (MCG-NJU/VideoMAE, modeling_pretrain.py and
modeling_finetune.py): the same modules, parameter names and arithmetic, without the training-only
parts (dropout, drop path, checkpointing). The tests load the trainer's exported files into it with
strict=True and compare outputs, and make checkpoints with it the way the published ones are made.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-6  # VideoMAE's norm_layer: partial(nn.LayerNorm, eps=1e-6)


def sinusoid_table(n_position, d_hid):
    """VideoMAE's fixed table over the flattened token index: channel 2i is sin(p / 10000^(2i/d))."""
    position = torch.arange(n_position, dtype=torch.float64)[:, None]
    channel = torch.arange(d_hid)
    angle = position / torch.pow(10000.0, (2 * (channel // 2)).double() / d_hid)
    table = torch.where(channel % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float().unsqueeze(0)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attention = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attention @ v).transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, tubelet, patch):
        super().__init__()
        self.proj = nn.Conv3d(3, dim, kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch))

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def tokens(c):
    return (c["frames"] // c["tubelet"]) * (c["img_size"] // c["patch"]) ** 2


class PretrainEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.patch_embed = PatchEmbed(c["dim"], c["tubelet"], c["patch"])
        self.pos_embed = sinusoid_table(tokens(c), c["dim"])  # not a parameter, as in VideoMAE
        self.blocks = nn.ModuleList(Block(c["dim"], c["heads"], c["mlp_ratio"]) for _ in range(c["depth"]))
        self.norm = nn.LayerNorm(c["dim"], eps=EPS)
        self.head = nn.Identity()

    def forward(self, x, mask):
        x = self.patch_embed(x) + self.pos_embed.type_as(x)
        B, _, C = x.shape
        x = x[~mask].reshape(B, -1, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class PretrainDecoder(nn.Module):
    def __init__(self, c, outputs):
        super().__init__()
        d = c["decoder_dim"]
        self.blocks = nn.ModuleList(Block(d, c["decoder_heads"], c["mlp_ratio"]) for _ in range(c["decoder_depth"]))
        self.norm = nn.LayerNorm(d, eps=EPS)
        self.head = nn.Linear(d, outputs)

    def forward(self, x, return_token_num):
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, -return_token_num:]))


class PretrainVisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.encoder = PretrainEncoder(c)
        self.decoder = PretrainDecoder(c, 3 * c["tubelet"] * c["patch"] ** 2)
        self.encoder_to_decoder = nn.Linear(c["dim"], c["decoder_dim"], bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, c["decoder_dim"]))
        self.pos_embed = sinusoid_table(tokens(c), c["decoder_dim"])

    def forward(self, x, mask):
        x_vis = self.encoder_to_decoder(self.encoder(x, mask))
        B, _, C = x_vis.shape
        pos = self.pos_embed.expand(B, -1, -1).type_as(x)
        pos_vis = pos[~mask].reshape(B, -1, C)
        pos_mask = pos[mask].reshape(B, -1, C)
        x_full = torch.cat([x_vis + pos_vis, self.mask_token + pos_mask], dim=1)
        return self.decoder(x_full, pos_mask.shape[1])


class VisionTransformer(nn.Module):
    """modeling_finetune.VisionTransformer, use_mean_pooling True or False."""

    def __init__(self, c, classes, use_mean_pooling=True):
        super().__init__()
        self.patch_embed = PatchEmbed(c["dim"], c["tubelet"], c["patch"])
        self.pos_embed = sinusoid_table(tokens(c), c["dim"])
        self.blocks = nn.ModuleList(Block(c["dim"], c["heads"], c["mlp_ratio"]) for _ in range(c["depth"]))
        self.norm = nn.Identity() if use_mean_pooling else nn.LayerNorm(c["dim"], eps=EPS)
        self.fc_norm = nn.LayerNorm(c["dim"], eps=EPS) if use_mean_pooling else None
        self.head = nn.Linear(c["dim"], classes)

    def forward_features(self, x):
        x = self.patch_embed(x) + self.pos_embed.type_as(x)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return self.fc_norm(x.mean(1)) if self.fc_norm is not None else x[:, 0]

    def forward(self, x):
        return self.head(self.forward_features(x))


def perturb(model, seed, scale=0.05):
    """Random values in every parameter (biases, norms and q/v biases too, which start at 0 or 1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale)
    return model
