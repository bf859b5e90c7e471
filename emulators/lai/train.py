"""Train the phase-two LAI models with phase one's data-parallel, resumable machinery.

    python -m emulators.lai.train --design separate|joint --out run/data/lai/<design>
        [--minutes 25] [--seed 0]             (torchrun / run/mpirun.sh -n 2 work as in phase one)
    torchrun --nproc-per-node 2 -m emulators.lai.train --check-ddp   (gradients vs one process)
    python -m emulators.lai.train --validate CKPT [CKPT …]   (validation RMSE, 75 % / 0 hidden)

`separate`: LaiUNet on the 38 LAI channels, masked MSE on the SEMI-EMPIRICAL target.
`joint`: JointUNet on 47 channels (phase one's 40 + climate, CO2, masked LAI prior and mask),
loss = land-use CE + land-cover CE (phase one's unweighted loss) + LAI masked MSE.
Distributed set-up, atomic checkpoints and the metrics files are phase one's
(emulators/lulc/train.py); a checkpoint after every epoch lets a stopped run continue;
`best.pt` keeps the epoch with the lowest validation LAI RMSE.
Warm starts (`--init`, `--init-head 1`) grow the first convolution (new input channels) and
the LAI head (more maps) with zero weights, so they start from the saved model's LAI;
`--residual 4 --pixel-pretrain N --epochs 0` fits v3's per-pixel path alone and saves it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from emulators.lai.dataset import N_JOINT_CHANNELS, LaiSource, Sampler
from emulators.lai.features import GSI, LAI_SCALE, MASK, N_CHANNELS, N_CHANNELS_V2, PRIOR
from emulators.lai.model import JointUNet, LaiUNet
from emulators.lai.phase_one import CACHE as PHASE_ONE_CACHE
from emulators.lai.phase_one import PhaseOneMaps
from emulators.lulc import split
from emulators.lulc.dataset import DEFAULT_CUBE, MASK_RATIOS
from emulators.lulc.train import (
    Loss,
    exit_process,
    init_distributed,
    learning_rate,
    save_best,
    save_epoch,
    share_clock,
)

DESIGNS = ("separate", "joint")


@dataclass
class Config:
    design: str = "separate"
    crop: int = 80  # multiple of 16 (U-Net) and of 5, 10, 20 (coarse cells of the joint input)
    batch: int = 4  # global batch (split over processes)
    steps_per_epoch: int = 25
    epochs: int = 1000
    minutes: float = 25.0
    lr: float = 2e-3
    decay_start: float = -1.0  # minute where phase one's cosine decay to lr·lr_final begins
    lr_final: float = 0.02
    base: int = 16
    seed: int = 0
    val_samples: int = 16
    residual: int = 2  # separate design: 1 = relu(prior + change), 2 = split by the mask,
    # 3 = split with the month's GSI as a multiplier (model.PhenologyHead), 4 = that with a
    # per-pixel path from the inputs (model.PixelPhenologyHead)
    dropout: float = 0.1  # separate design: before the head (MC-dropout spread)
    mask_min: float = 0.25  # hidden share of the prior drawn from [mask_min, 0.95]; online
    # the whole prior is visible, so 0 puts that case into training
    init: str = ""  # warm start: a checkpoint whose encoder–decoder weights are copied
    init_head: int = 0  # 1: copy the warm start's head too (same head type)
    pixel_lr_factor: float = 1.0  # the lr of PixelPhenologyHead's pixel path, × lr
    pixel_pretrain: int = 0  # steps fitting that path alone to hidden pixels (pretrain_pixel)
    channels: int = N_CHANNELS  # separate design's inputs: 38 (v1, v2) or 43 (+ vegetation)
    predicted_share: float = 0.0  # share of training samples fed phase one's predicted land
    # use/cover where the prior is hidden (phase_one.py); > 0 also validates with it and
    # keeps as best.pt the epoch with the lowest mean of the two validation RMSEs
    phase_one_cache: str = str(PHASE_ONE_CACHE)


def build_model(
    design: str, base: int, residual: int = 0, dropout: float = 0.0, channels: int = N_CHANNELS
):
    """The model of a design; `residual`/`dropout`/`channels` apply to the separate design
    (checkpoints written before they existed load with their defaults)."""
    if design not in DESIGNS:
        raise ValueError(f"unknown design '{design}', choose one of {DESIGNS}")
    if design == "joint":
        return JointUNet(N_JOINT_CHANNELS, base)
    return LaiUNet(channels, base, residual, dropout)


def model_of_config(config: dict) -> torch.nn.Module:
    return build_model(
        config["design"],
        config["base"],
        config.get("residual", 0),
        config.get("dropout", 0.0),
        config.get("channels", N_CHANNELS_V2),
    )


FIRST_CONV = "inc.0.weight"  # (out, in, 3, 3): grows with the input channels


GROWS = {FIRST_CONV: 1, "head_lai.conv.weight": 0, "head_lai.conv.bias": 0}  # which dim


def warm_start(model: torch.nn.Module, path: Path, head: bool = False) -> None:
    """Copy the encoder–decoder (and with `head` the heads) of another checkpoint. A first
    convolution with more input channels (appended at the end of features.CHANNELS), or an
    LAI head with more outputs (PhenologyHead after SplitResidualHead), gets the saved
    weights on the leading slices and zeros on the new ones, so the warm-started model
    computes exactly what the saved one did until training moves them."""
    saved = torch.load(path, weights_only=False)["model"]
    kept = {k: v for k, v in saved.items() if head or not k.startswith("head_")}
    own = model.state_dict()
    for name, dim in GROWS.items():
        old, new = kept.get(name), own[name]
        if old is None or old.dim() != new.dim() or not old.shape[dim] < new.shape[dim]:
            continue
        if all(
            a == b for d, (a, b) in enumerate(zip(old.shape, new.shape, strict=True)) if d != dim
        ):
            grown = torch.zeros_like(new)
            grown.narrow(dim, 0, old.shape[dim]).copy_(old)
            kept[name] = grown
    try:
        missing = model.load_state_dict(kept, strict=False).missing_keys
    except RuntimeError as exc:
        raise ValueError(f"warm start '{path}': the weights do not fit ({exc})") from exc
    new_paths = ("head_lai.pixel.",)  # start at zero output (PixelPhenologyHead)
    if any((head or not k.startswith("head_")) and not k.startswith(new_paths) for k in missing):
        raise ValueError(f"warm start '{path}': the body does not match ({missing[:3]} …)")


def pretrain_pixel(
    model: LaiUNet,
    sampler: Sampler,
    steps: int,
    crops: int = 500,
    seed: int = 0,
    keep_body: bool = False,
) -> float:
    """Fit PixelPhenologyHead's 1×1 path alone to the hidden pixels of `crops` training
    crops (whole prior hidden): hidden LAI = relu(pixel₁ + GSI·pixel₂) from the pixel's own
    inputs, the body's hidden maps set to 0 — or, with `keep_body`, kept and added (a
    fine-tuned body's spatial correction stays; used to refit ensemble members). The visible
    branch is untouched (its pixel maps get no gradient). Adam, lr 3e-3, 4,096 pixels a step,
    straight-through relu. Why: the U-Net body learned these pixel-wise amplitudes slowly
    (validation RMSE 0.69 on hidden pixels after 70 min) where a pixel MLP fits them in
    seconds. Returns the last step's RMSE."""
    head = model.head_lai
    if not keep_body:
        with torch.no_grad():
            head.conv.weight[1:3] = 0.0
            head.conv.bias[1:3] = 0.0
    rng = np.random.default_rng([seed, 7])
    xs, ys, bodies = [], [], []
    was_training = model.training
    model.eval()
    for _ in range(crops):
        x, lai, valid, _, _ = sampler.sample(rng, ratio=1.0)
        keep = valid & (x[MASK] > 0.5)
        xs.append(x[:, keep].T[::4])
        ys.append(lai[keep][::4])
        if keep_body:
            with torch.no_grad():
                body = head.conv(model.features(torch.from_numpy(x[None])))[0, 1:3].numpy()
            bodies.append(body[:, keep].T[::4])
    model.train(was_training)
    x, y = torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))
    body = torch.from_numpy(np.concatenate(bodies)) if keep_body else torch.zeros(len(y), 2)
    opt = torch.optim.Adam(head.pixel.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    rmse = float("nan")
    for _ in range(steps):
        idx = torch.randint(0, len(y), (4096,), generator=g)
        c = head.pixel(x[idx, :, None, None])[:, :, 0, 0]
        z = body[idx, 0] + c[:, 1] + x[idx, GSI] * (body[idx, 1] + c[:, 2])
        loss = ((z + (torch.relu(z) - z).detach() - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        rmse = float(loss.detach()) ** 0.5
    return rmse


def masked_mse(pred: torch.Tensor, lai: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    w = valid.float()
    return ((pred - lai) ** 2 * w).sum() / w.sum().clamp(min=1.0)


def loss_of(out, lai, valid, lu, lc) -> torch.Tensor:
    if isinstance(out, tuple):  # joint: (lu logits, lc logits, lai)
        return Loss("ce")(out[:2], lu, lc) + masked_mse(out[2], lai, valid)
    return masked_mse(out, lai, valid)


def make_batch(sampler: Sampler, rng: np.random.Generator, n: int, **kw) -> list[torch.Tensor]:
    parts = zip(*(sampler.sample(rng, **kw) for _ in range(n)), strict=True)
    x, lai, valid, lu, lc = (np.stack(p) for p in parts)
    return [
        torch.from_numpy(x),
        torch.from_numpy(lai),
        torch.from_numpy(valid),
        torch.from_numpy(lu.astype(np.int64)),
        torch.from_numpy(lc.astype(np.int64)),
    ]


@torch.no_grad()
def validate(model: torch.nn.Module, batches: list[list[torch.Tensor]]) -> dict[str, float]:
    """Validation LAI RMSE (75 % of the prior hidden) over valid pixels."""
    model.eval()
    se, n = 0.0, 0.0
    channels = model.inc[0].in_channels if hasattr(model, "inc") else None  # 38: v1, v2
    for x, lai, valid, _, _ in batches:
        out = model(x[:, :channels])
        pred = out[2] if isinstance(out, tuple) else out
        se += float(((pred - lai) ** 2 * valid).sum())
        n += float(valid.sum())
    model.train()
    return {"val_rmse": (se / max(n, 1.0)) ** 0.5}


def train(cfg: Config, out: Path, cube_path: Path = DEFAULT_CUBE, source=None) -> dict:
    rank, world = init_distributed()
    if cfg.batch % world:
        raise ValueError(f"global batch {cfg.batch} must divide over {world} processes")
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    source = source or LaiSource(cube_path)
    joint = cfg.design == "joint"
    ratios = (cfg.mask_min, MASK_RATIOS[1])
    phase_one = PhaseOneMaps.load(Path(cfg.phase_one_cache)) if cfg.predicted_share else None
    train_s = Sampler(
        source,
        split.TRAIN,
        cfg.crop,
        joint=joint,
        ratios=ratios,
        phase_one=phase_one,
        predicted_share=cfg.predicted_share,
    )
    val_s = Sampler(source, split.VALIDATION, cfg.crop, joint=joint)
    val_batches, val_batches_p = validation_batches(val_s, cfg.val_samples, 0.75), []
    if phase_one is not None:
        val_p = Sampler(source, split.VALIDATION, cfg.crop, phase_one=phase_one, predicted_share=1)
        val_batches_p = validation_batches(val_p, cfg.val_samples, 0.75)

    model = model_of_config(asdict(cfg))
    pixel = [p for n, p in model.named_parameters() if n.startswith("head_lai.pixel.")]
    body = [p for n, p in model.named_parameters() if not n.startswith("head_lai.pixel.")]
    groups = [{"params": body, "scale": 1.0}]
    if pixel:
        groups.append({"params": pixel, "scale": cfg.pixel_lr_factor})
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=1e-4)
    state = {"epoch": 0, "history": [], "best": float("inf"), "seconds": 0.0}
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        state = saved["state"]
        if rank == 0:
            print(f"resuming from {ckpt} at epoch {state['epoch']}", file=sys.stderr)
    elif cfg.init:
        warm_start(model, Path(cfg.init), bool(cfg.init_head))
    if cfg.pixel_pretrain and not ckpt.is_file():
        rmse = pretrain_pixel(model, train_s, cfg.pixel_pretrain, seed=cfg.seed)
        if rank == 0:
            print(f"pixel path pretrained: last-step RMSE {rmse:.3f}", file=sys.stderr)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    model.train()
    t_start = time.perf_counter() - state["seconds"]
    while state["epoch"] < cfg.epochs and state["seconds"] < cfg.minutes * 60:
        epoch, losses = state["epoch"], []
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, state["seconds"]) * group.get("scale", 1.0)
        for step in range(cfg.steps_per_epoch):
            rng = np.random.default_rng([cfg.seed, epoch, step, rank])
            x, lai, valid, lu, lc = make_batch(train_s, rng, cfg.batch // world)
            opt.zero_grad()
            loss = loss_of(net(x), lai, valid, lu, lc)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        state["epoch"] = epoch + 1
        state["seconds"] = time.perf_counter() - t_start
        if rank == 0:
            row = {"epoch": epoch + 1, "loss": float(np.mean(losses))}
            row["lr"] = opt.param_groups[0]["lr"]
            row["seconds"] = round(state["seconds"], 1)
            row.update(validation_row(model, val_batches, val_batches_p))
            state["history"].append(row)
            if row["val_score"] < state["best"]:
                state["best"] = row["val_score"]
                save_best(model, cfg, row, out)
            save_epoch(model, opt, cfg, state, out, ckpt, row)
        share_clock(state, world)
    if state["epoch"] == 0 and rank == 0:  # --epochs 0: the warm-started/pretrained model
        row = {"epoch": 0, "seconds": round(time.perf_counter() - t_start, 1)}
        row.update(validation_row(model, val_batches, val_batches_p))
        state["history"].append(row)
        state["best"] = row["val_score"]
        save_best(model, cfg, row, out)
        save_epoch(model, opt, cfg, state, out, ckpt, row)
    return {"design": cfg.design, "epochs": state["epoch"], "best_val_rmse": state["best"]}


def validation_row(model: torch.nn.Module, batches: list, batches_predicted: list) -> dict:
    """val_rmse (true land cover), with `batches_predicted` also val_rmse_predicted (phase
    one's), and val_score, the number best.pt is chosen by (their mean, else val_rmse)."""
    row = validate(model, batches)
    row["val_score"] = row["val_rmse"]
    if batches_predicted:
        row["val_rmse_predicted"] = validate(model, batches_predicted)["val_rmse"]
        row["val_score"] = (row["val_rmse"] + row["val_rmse_predicted"]) / 2
    return row


def validation_batches(sampler: Sampler, samples: int, ratio: float) -> list[list[torch.Tensor]]:
    """The same validation crops every time (fixed seed)."""
    rng = np.random.default_rng(12345)
    return [make_batch(sampler, rng, 4, ratio=ratio) for _ in range(samples // 4)]


def validation_scores(
    checkpoints: list[Path], ratios=(0.75, 0.0), samples: int = 48, cube_path: Path = DEFAULT_CUBE
) -> dict:
    """Validation RMSE of checkpoints at several hidden-prior shares (the same crops for all):
    picks the checkpoint for the online case (0: the whole prior visible) on the validation
    blocks, not on the held-out test blocks."""
    from emulators.lai.export import load_checkpoint

    source = LaiSource(cube_path)
    val_s = Sampler(source, split.VALIDATION, Config().crop)
    batches = {f"{r:g}": validation_batches(val_s, samples, r) for r in ratios}
    if PHASE_ONE_CACHE.is_file():  # phase one's predictions where the prior is hidden
        maps = PhaseOneMaps.load()
        val_p = Sampler(source, split.VALIDATION, Config().crop, phase_one=maps, predicted_share=1)
        for r in ratios:
            if r > 0:
                batches[f"{r:g}_predicted"] = validation_batches(val_p, samples, r)
    copy = CopyPrior()
    scores = (
        {"copy_prior_mask0": validate(copy, batches["0"])["val_rmse"]} if "0" in batches else {}
    )
    for path in checkpoints:
        model = load_checkpoint(path)[0]
        scores[str(path)] = {
            f"val_rmse_mask{r}": validate(model, b)["val_rmse"] for r, b in batches.items()
        }
    return scores


class CopyPrior(torch.nn.Module):
    """The copy-the-prior baseline as a model: LAI = the visible prior channel · 8."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, PRIOR] * LAI_SCALE


def ddp_gradient_difference(design: str, batch: int = 4, size: int = 32, seed: int = 0):
    """Max |gradient| difference between DDP over the processes and one process on the
    whole batch for `design` (rank 0 returns it, other ranks None). Synthetic inputs, every
    pixel valid (so the mean of equal local means is the global mean), no dropout (masks
    would differ between the runs): this checks the parallel machinery, not the data."""
    rank, world = init_distributed()
    g = torch.Generator().manual_seed(seed)
    channels = N_JOINT_CHANNELS if design == "joint" else N_CHANNELS
    x = torch.rand(batch, channels, size, size, generator=g)
    lai = 4 * torch.rand(batch, size, size, generator=g)
    valid = torch.ones(batch, size, size, dtype=torch.bool)
    lu = torch.randint(0, 8, (batch, size, size), generator=g)
    lc = torch.randint(0, 11, (batch, size, size), generator=g)

    def fresh() -> torch.nn.Module:
        torch.manual_seed(seed)
        return build_model(design, 4, residual=2)

    model = fresh()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    part = slice(rank * batch // world, (rank + 1) * batch // world)
    loss_of(net(x[part]), lai[part], valid[part], lu[part], lc[part]).backward()
    if rank != 0:
        return None
    single = fresh()
    loss_of(single(x), lai, valid, lu, lc).backward()
    return max(
        float((a.grad - b.grad).abs().max())
        for a, b in zip(model.parameters(), single.parameters(), strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m emulators.lai.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--check-ddp", action="store_true", help="DDP vs one process; prints JSON")
    p.add_argument("--validate", type=Path, nargs="+", help="checkpoints to score (JSON)")
    for name, value in asdict(Config()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """What the arguments ask for; its JSON result goes to stdout."""
    if args.validate:
        print(json.dumps(validation_scores(args.validate, cube_path=args.cube)))
        return 0
    if args.check_ddp:
        diffs = {d: ddp_gradient_difference(d) for d in DESIGNS}
        if diffs["separate"] is not None:
            world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
            print(json.dumps({"world_size": world, "max_grad_diff": diffs}))
        return 0
    cfg = Config(**{k: getattr(args, k) for k in asdict(Config())})
    out = args.out or Path(f"run/data/lai/{cfg.design}_seed{cfg.seed}")
    print(json.dumps(train(cfg, out, args.cube)))
    return 0


if __name__ == "__main__":
    exit_process(main())
