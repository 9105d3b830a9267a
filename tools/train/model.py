"""A small Qwen3-MoE (HF Qwen3MoeForCausalLM) in PyTorch, computing what moxie computes:

  h = embed(tokens)
  per layer:  h += o_proj(attn(rope(q_norm(q)), rope(k_norm(k)), v))   on rms_norm(h)
              h += moe(rms_norm(h))
  logits = lm_head(rms_norm(h))          (lm_head tied to the embedding)

- attention: GQA, no biases; q and k RMS-normalised per head (over head_dim) before RoPE;
  RoPE NeoX style (rotate_half: pairs (x[i], x[i + d/2])), theta = rope_theta.
- MoE: softmax over all experts, top-k, weights renormalised to sum 1 (norm_topk_prob);
  each expert is SwiGLU: down(silu(gate(x)) * up(x)); no shared expert.
- load balancing: the Switch/Qwen auxiliary loss, n_expert * sum_i f_i * P_i per layer
  (f_i: fraction of routed slots that went to expert i, P_i: mean router probability).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


class Config:
    def __init__(self, **kw):
        self.vocab_size = kw.get("vocab_size", 2048)
        self.hidden_size = kw.get("hidden_size", 192)
        self.num_hidden_layers = kw.get("num_hidden_layers", 4)
        self.num_attention_heads = kw.get("num_attention_heads", 4)
        self.num_key_value_heads = kw.get("num_key_value_heads", 2)
        self.head_dim = kw.get("head_dim", 32)
        self.num_experts = kw.get("num_experts", 8)
        self.num_experts_per_tok = kw.get("num_experts_per_tok", 2)
        self.moe_intermediate_size = kw.get("moe_intermediate_size", 256)
        self.max_position_embeddings = kw.get("max_position_embeddings", 256)
        self.rope_theta = kw.get("rope_theta", 10000.0)
        self.rms_norm_eps = kw.get("rms_norm_eps", 1e-6)
        self.router_aux_loss_coef = kw.get("router_aux_loss_coef", 0.01)

    def to_dict(self):
        return dict(self.__dict__)


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


def rope_tables(head_dim, n_pos, theta):
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv_freq[None, :]  # [n_pos, head_dim/2]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def apply_rope_neox(x, cos, sin):
    """x: [batch, heads, T, head_dim]; rotates the pairs (x[i], x[i + head_dim/2])."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * c.head_dim, c.hidden_size, bias=False)
        self.q_norm = RMSNorm(c.head_dim, c.rms_norm_eps)
        self.k_norm = RMSNorm(c.head_dim, c.rms_norm_eps)

    def forward(self, x, cos, sin):
        c = self.c
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, c.num_attention_heads, c.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, c.num_key_value_heads, c.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q = apply_rope_neox(q, cos[:T], sin[:T])
        k = apply_rope_neox(k, cos[:T], sin[:T])
        group = c.num_attention_heads // c.num_key_value_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(c.head_dim)  # [B, H, T, T]
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        y = scores.masked_fill(causal, float("-inf")).softmax(-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class SparseMoe(nn.Module):
    """Experts stored stacked as HF's per-expert Linear weights would be: [E, out, in]."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        E, d, f = c.num_experts, c.hidden_size, c.moe_intermediate_size
        self.gate = nn.Linear(d, E, bias=False)
        self.gate_proj = nn.Parameter(torch.randn(E, f, d) / math.sqrt(d))
        self.up_proj = nn.Parameter(torch.randn(E, f, d) / math.sqrt(d))
        self.down_proj = nn.Parameter(torch.randn(E, d, f) / math.sqrt(f))

    def forward(self, x):
        """Returns (output, aux_loss, hits[E]) for x: [B, T, d]."""
        c = self.c
        flat = x.reshape(-1, x.shape[-1])
        probs = F.softmax(self.gate(flat), dim=-1, dtype=torch.float32)  # [N, E]
        top_w, top_i = probs.topk(c.num_experts_per_tok, dim=-1)
        top_w = top_w / top_w.sum(-1, keepdim=True)
        out = torch.zeros_like(flat)
        hits = torch.bincount(top_i.flatten(), minlength=c.num_experts)
        for e in range(c.num_experts):
            rows, slot = torch.where(top_i == e)
            if rows.numel() == 0:
                continue
            xe = flat[rows]
            he = F.silu(xe @ self.gate_proj[e].t()) * (xe @ self.up_proj[e].t())
            out.index_add_(0, rows, (he @ self.down_proj[e].t()) * top_w[rows, slot, None])
        f = hits.float() / top_i.numel()
        aux = c.num_experts * (f * probs.mean(0)).sum()
        return out.view_as(x), aux, hits


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = SparseMoe(c)

    def forward(self, h, cos, sin):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin)
        y, aux, hits = self.mlp(self.post_attention_layernorm(h))
        return h + y, aux, hits


class Qwen3Moe(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        nn.init.normal_(self.embed_tokens.weight, std=0.02)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        cos, sin = rope_tables(c.head_dim, c.max_position_embeddings, c.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        for layer in self.layers:
            for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                nn.init.normal_(lin.weight, std=0.02)
            nn.init.normal_(layer.self_attn.o_proj.weight, std=0.02 / math.sqrt(2 * c.num_hidden_layers))
            nn.init.normal_(layer.mlp.gate.weight, std=0.02)

    def forward(self, tokens):
        """tokens: [B, T] -> (logits [B, T, V], mean aux loss, hits [L, E])."""
        h = self.embed_tokens(tokens)
        auxes, hits = [], []
        for layer in self.layers:
            h, aux, layer_hits = layer(h, self.rope_cos, self.rope_sin)
            auxes.append(aux)
            hits.append(layer_hits)
        logits = self.norm(h) @ self.embed_tokens.weight.t()
        return logits, torch.stack(auxes).mean(), torch.stack(hits)
