"""Train the land-use U-Net: data-parallel, resumable, with a progress bar and a metrics log.

    python -m emulators.lulc.train run --out run/data/lulc/train [--minutes 60] [--loss L|auto]
    torchrun --nproc-per-node 2 -m emulators.lulc.train run …     (or run/mpirun.sh -n 2 …)
    python -m emulators.lulc.train select-loss --minutes 5        (imbalance handling by validation)
    torchrun --nproc-per-node 2 -m emulators.lulc.train check-ddp  (gradients vs one process)

Data parallel with torch.distributed (gloo on CPU, NCCL on GPUs): each of the W processes
draws batch/W samples of every global batch from its own random stream; DDP averages the
gradients, which equals one process on the whole batch (the U-Net has no batch-dependent
layer). Started by torchrun (RANK/WORLD_SIZE) or by mpirun (Open MPI's OMPI_COMM_WORLD_*).
A checkpoint (model, optimiser, epoch, random state, history) is written atomically after
every epoch under --out, never committed; a run stopped at any time continues from it.
Per-epoch metrics go to metrics.csv and metrics.json; `best.pt` keeps the epoch with the
best validation land-cover mIoU.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
from torch import nn
from torch.nn import functional as nnf

from emulators.lulc import split
from emulators.lulc.classes import IGNORE
from emulators.lulc.dataset import DEFAULT_CUBE, Cube, Sampler, window_class_counts
from emulators.lulc.features import N_CHANNELS, N_LC, N_LU
from emulators.lulc.metrics import confusion, miou_oa
from emulators.lulc.model import UNet, with_input_channels

LOSSES = ("ce", "weighted_ce", "ce_dice", "weighted_focal")
SELECTED_LOSSES = LOSSES[:3]  # what `select-loss` compares (the shipped run's choice)
FOCAL_GAMMA = 2.0


@dataclass
class Config:
    crop: int = 160
    batch: int = 4  # global batch (split over processes)
    steps_per_epoch: int = 50
    epochs: int = 1000
    minutes: float = 60.0
    lr: float = 2e-3
    decay_start: float = -1.0  # minute of training where a cosine decay to lr_final·lr begins
    lr_final: float = 0.02
    loss: str = "weighted_ce"
    base: int = 16
    seed: int = 0
    val_samples: int = 32
    init: str = ""  # fine-tune: start from this checkpoint's weights (new optimiser, clock)
    class_balanced: float = 0.0  # share of crops drawn class first (`Sampler`)
    extra_inputs: str = ""  # probe only: "ndvi" appends channels (information_probe.EXTRA)


# ----------------------------------------------------------------------------------------
# distributed set-up
# ----------------------------------------------------------------------------------------
def bind_gloo_to_loopback_on_one_node() -> None:
    """Bind gloo to the loopback interface when every process runs on this node.

    gloo picks its interface by resolving the host's name; in containers and CI sandboxes that
    name often resolves to nothing bindable and gloo aborts (SIGABRT, no Python message). A
    world whose master is the loopback address lives on one node, so loopback is right there.
    An explicit GLOO_SOCKET_IFNAME is kept.
    """
    if os.environ.get("GLOO_SOCKET_IFNAME"):
        return
    if os.environ.get("MASTER_ADDR", "127.0.0.1") not in ("127.0.0.1", "localhost", "::1"):
        return
    names = {name for _, name in socket.if_nameindex()}
    loopback = next((n for n in ("lo", "lo0") if n in names), None)
    if loopback is not None:
        os.environ["GLOO_SOCKET_IFNAME"] = loopback


def init_distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group when there are several processes."""
    if "WORLD_SIZE" not in os.environ and "OMPI_COMM_WORLD_SIZE" in os.environ:
        os.environ["RANK"] = os.environ["OMPI_COMM_WORLD_RANK"]
        os.environ["WORLD_SIZE"] = os.environ["OMPI_COMM_WORLD_SIZE"]
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        bind_gloo_to_loopback_on_one_node()
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend, rank=rank, world_size=world)
    return rank, world


def exit_process(code: int) -> NoReturn:
    """End a training command run as a program (`python -m`, torchrun, mpirun).

    Distributed, every process meets the others at a barrier and then leaves without the
    interpreter's finalisation: gloo's worker threads free their last work objects after
    the call has returned, and one that does so while Python finalises needs the GIL, is
    ended by Python with a forced unwind through a noexcept destructor, and std::terminate
    aborts the process ("terminate called without an active exception") — torchrun then
    kills the other processes mid-work. Results are written and flushed before.
    """
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)


# ----------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------
def class_weights(counts: np.ndarray) -> torch.Tensor:
    """Inverse square-root frequency weights, mean 1 over the pixels, capped at 10."""
    freq = counts / max(counts.sum(), 1)
    w = np.where(freq > 0, 1.0 / np.sqrt(np.maximum(freq, 1e-12)), 0.0)
    w = w / max((w * freq).sum(), 1e-12)
    return torch.tensor(np.minimum(w, 10.0), dtype=torch.float32)


def soft_dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − mean soft Dice over the classes present in the batch (ignored pixels excluded)."""
    valid = (target != IGNORE).unsqueeze(1)
    prob = logits.softmax(1) * valid
    onehot = (
        nnf.one_hot(target.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2)
        * valid
    )
    inter = (prob * onehot).sum((0, 2, 3))
    denom = prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    return 1 - (2 * inter[present] / denom[present].clamp(min=1e-6)).mean()


def focal(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Class-weighted focal loss (Lin et al. 2017): cross-entropy scaled by (1 − p_true)^γ,
    so pixels the network already gets right (the common classes) count less than the
    rare classes' mistakes; mean over the weights of the valid pixels, as cross_entropy."""
    valid = target != IGNORE
    t = target.clamp(max=logits.shape[1] - 1)
    logp = nnf.log_softmax(logits, 1).gather(1, t.unsqueeze(1)).squeeze(1)
    w = weight[t] if weight is not None else torch.ones_like(logp)
    w = w * valid
    per_pixel = -((1 - logp.exp()) ** FOCAL_GAMMA) * logp
    return (w * per_pixel).sum() / w.sum().clamp(min=1e-12)


class Loss(nn.Module):
    """Land-use + land-cover loss of the chosen kind (see LOSSES)."""

    def __init__(
        self, kind: str, w_lu: torch.Tensor | None = None, w_lc: torch.Tensor | None = None
    ):
        super().__init__()
        if kind not in LOSSES:
            raise ValueError(f"unknown loss '{kind}', choose one of {LOSSES}")
        self.kind = kind
        weighted = kind in ("weighted_ce", "weighted_focal")
        self.w_lu = w_lu if weighted else None
        self.w_lc = w_lc if weighted else None

    def forward(
        self, out: tuple[torch.Tensor, torch.Tensor], lu: torch.Tensor, lc: torch.Tensor
    ) -> torch.Tensor:
        if self.kind == "weighted_focal":
            return focal(out[0], lu, self.w_lu) + focal(out[1], lc, self.w_lc)
        loss = nnf.cross_entropy(out[0], lu, weight=self.w_lu, ignore_index=IGNORE)
        loss = loss + nnf.cross_entropy(out[1], lc, weight=self.w_lc, ignore_index=IGNORE)
        if self.kind == "ce_dice":
            loss = loss + soft_dice(out[0], lu) + soft_dice(out[1], lc)
        return loss


# ----------------------------------------------------------------------------------------
# batches
# ----------------------------------------------------------------------------------------
def make_batch(
    sampler: Sampler, rng: np.random.Generator, n: int, **kw
) -> tuple[torch.Tensor, ...]:
    xs, lus, lcs = zip(*(sampler.sample(rng, **kw) for _ in range(n)), strict=True)
    return (
        torch.from_numpy(np.stack(xs)),
        torch.from_numpy(np.stack(lus).astype(np.int64)),
        torch.from_numpy(np.stack(lcs).astype(np.int64)),
    )


def label_counts(cube: Cube, sampler: Sampler) -> tuple[np.ndarray, np.ndarray]:
    """Pixel counts per class over the training windows (for the class weights)."""
    return tuple(window_class_counts(cube, sampler.origins, k).sum(0) for k in ("lu", "lc"))


@torch.no_grad()
def validate(model: nn.Module, batches: list[tuple[torch.Tensor, ...]]) -> dict[str, float]:
    """Validation mIoU and OA for both heads (75 % masking, 1.25° coarse input)."""
    model.eval()
    c_lu = np.zeros((N_LU, N_LU), np.int64)
    c_lc = np.zeros((N_LC, N_LC), np.int64)
    for x, lu, lc in batches:
        out_lu, out_lc = model(x)
        c_lu += confusion(lu.numpy(), out_lu.argmax(1).numpy(), N_LU)
        c_lc += confusion(lc.numpy(), out_lc.argmax(1).numpy(), N_LC)
    model.train()
    m_lu, oa_lu, _ = miou_oa(c_lu)
    m_lc, oa_lc, _ = miou_oa(c_lc)
    return {"val_lu_miou": m_lu, "val_lu_oa": oa_lu, "val_lc_miou": m_lc, "val_lc_oa": oa_lc}


def learning_rate(cfg: Config, seconds: float) -> float:
    """Constant lr, then (from `decay_start` minutes on) a cosine decay reaching
    lr·lr_final at `minutes`; time-based because training is budgeted in minutes, and
    continuing from a checkpoint picks up the schedule where it stopped."""
    if cfg.decay_start < 0 or seconds <= cfg.decay_start * 60:
        return cfg.lr
    span = max((cfg.minutes - cfg.decay_start) * 60, 1e-9)
    progress = min((seconds - cfg.decay_start * 60) / span, 1.0)
    return float(
        cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + np.cos(np.pi * progress)))
    )


def extra_inputs(name: str) -> tuple[Callable | None, int]:
    """(`Sampler` extra-channel source, its channel count) of a probe's input set."""
    if not name:
        return None, 0
    from emulators.lulc.information_probe import extra_source

    return extra_source(name)


def atomic_save(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------
# the training loop
# ----------------------------------------------------------------------------------------
def train(
    cfg: Config, out: Path, cube_path: Path = DEFAULT_CUBE, progress: bool | None = None
) -> dict:
    rank, world = init_distributed()
    if cfg.batch % world:
        raise ValueError(f"global batch {cfg.batch} must divide over {world} processes")
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    cube = Cube.open(cube_path)
    extra, n_extra = extra_inputs(cfg.extra_inputs)
    train_s = Sampler(cube, split.TRAIN, cfg.crop, class_balanced=cfg.class_balanced, extra=extra)
    val_s = Sampler(cube, split.VALIDATION, cfg.crop, extra=extra)
    w_lu, w_lc = (class_weights(c) for c in label_counts(cube, train_s))
    loss_fn = Loss(cfg.loss, w_lu, w_lc)
    vrng = np.random.default_rng(12345)
    val_batches = [
        make_batch(val_s, vrng, 4, factor=25, ratio=0.75) for _ in range(cfg.val_samples // 4)
    ]

    model = UNet(N_CHANNELS + n_extra, N_LU, N_LC, cfg.base)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    state = {"epoch": 0, "history": [], "best": -1.0, "seconds": 0.0}
    ckpt = out / "checkpoint.pt"
    if cfg.init and not ckpt.is_file():
        init = torch.load(cfg.init, weights_only=False)["model"]
        model.load_state_dict(with_input_channels(init, N_CHANNELS + n_extra))
        if rank == 0:
            print(f"fine-tuning from the weights of {cfg.init}", file=sys.stderr)
    if ckpt.is_file():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        state = saved["state"]
        if rank == 0:
            print(f"resuming from {ckpt} at epoch {state['epoch']}", file=sys.stderr)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    model.train()
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm import tqdm

    t_start = time.perf_counter() - state["seconds"]
    while state["epoch"] < cfg.epochs and state["seconds"] < cfg.minutes * 60:
        epoch = state["epoch"]
        bar = tqdm(
            total=cfg.steps_per_epoch, desc=f"epoch {epoch}", disable=not (progress and rank == 0)
        )
        losses = []
        for group in opt.param_groups:  # per epoch, from the clock every rank shares
            group["lr"] = learning_rate(cfg, state["seconds"])
        for step in range(cfg.steps_per_epoch):
            rng = np.random.default_rng([cfg.seed, epoch, step, rank])
            x, lu, lc = make_batch(train_s, rng, cfg.batch // world)
            opt.zero_grad()
            loss = loss_fn(net(x), lu, lc)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
            bar.update()
        bar.close()
        state["epoch"] = epoch + 1
        state["seconds"] = time.perf_counter() - t_start
        if rank == 0:
            row = {
                "epoch": epoch + 1,
                "loss": float(np.mean(losses)),
                "lr": opt.param_groups[0]["lr"],
                "seconds": round(state["seconds"], 1),
            }
            row.update(validate(model, val_batches))
            state["history"].append(row)
            if row["val_lc_miou"] > state["best"]:
                state["best"] = row["val_lc_miou"]
                save_best(model, cfg, row, out)
            save_epoch(model, opt, cfg, state, out, ckpt, row)
        share_clock(state, world)
    return {"epochs": state["epoch"], "best_val_lc_miou": state["best"]}


def save_best(model: torch.nn.Module, cfg, row: dict, out: Path) -> None:
    """The best model so far, with its configuration and validation metrics."""
    atomic_save(
        {"model": model.state_dict(), "config": asdict(cfg), "metrics": row}, out / "best.pt"
    )


def save_epoch(model, opt, cfg, state: dict, out: Path, ckpt: Path, row: dict) -> None:
    """End of an epoch on rank 0: the resumable checkpoint, the metrics log, one JSON line."""
    atomic_save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "state": state,
            "config": asdict(cfg),
        },
        ckpt,
    )
    write_metrics(state["history"], out)
    print(json.dumps(row), file=sys.stderr, flush=True)


def share_clock(state: dict, world: int) -> None:
    """Every rank takes rank 0's training clock, so all stop after the same epoch."""
    if world > 1:
        t = torch.tensor([state["seconds"]], dtype=torch.float64)
        torch.distributed.broadcast(t, 0)
        state["seconds"] = float(t)


def write_metrics(history: list[dict], out: Path) -> None:
    """metrics.json and metrics.csv (one row per epoch), each written atomically."""
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(history, indent=1))
    os.replace(tmp, out / "metrics.json")
    tmp = out / "metrics.csv.tmp"
    with tmp.open("w", newline="") as fh:
        names = list(dict.fromkeys(k for row in history for k in row))
        w = csv.DictWriter(fh, fieldnames=names)
        w.writeheader()
        w.writerows(history)
    os.replace(tmp, out / "metrics.csv")


# ----------------------------------------------------------------------------------------
# data-parallel check: DDP gradients vs one process on the same global batch
# ----------------------------------------------------------------------------------------
def ddp_gradient_difference(
    batch: int = 4, size: int = 32, base: int = 4, seed: int = 0
) -> float | None:
    """Max |gradient| difference between DDP over the processes and one process on the
    whole batch (rank 0 returns it, other ranks None). Synthetic inputs: this checks the
    parallel machinery, not the data."""
    rank, world = init_distributed()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, N_CHANNELS, size, size, generator=g)
    lu = torch.randint(0, N_LU, (batch, size, size), generator=g)
    lc = torch.randint(0, N_LC, (batch, size, size), generator=g)
    loss_fn = Loss("ce")  # mean over equal local batches = global mean (Dice is not)

    def fresh() -> nn.Module:
        torch.manual_seed(seed)
        return UNet(N_CHANNELS, N_LU, N_LC, base)

    model = fresh()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    part = slice(rank * batch // world, (rank + 1) * batch // world)
    loss_fn(net(x[part]), lu[part], lc[part]).backward()
    if rank != 0:
        return None
    single = fresh()
    loss_fn(single(x), lu, lc).backward()
    return max(
        float((a.grad - b.grad).abs().max())
        for a, b in zip(model.parameters(), single.parameters(), strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m emulators.lulc.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train (or continue training) the U-Net")
    r.add_argument("--out", type=Path, default=Path("run/data/lulc/train"))
    r.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--select", type=Path, default=Path("run/data/lulc/select"))
    for name, value in asdict(Config()).items():
        r.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    s = sub.add_parser("select-loss", help="short runs of every loss; best by validation LC mIoU")
    s.add_argument("--out", type=Path, default=Path("run/data/lulc/select"))
    s.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    s.add_argument("--minutes", type=float, default=5.0)
    s.add_argument("--threads", type=int, default=1)
    c = sub.add_parser("check-ddp", help="compare DDP gradients with one process; prints JSON")
    c.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """The chosen subcommand; its JSON result goes to stdout."""
    if args.cmd == "check-ddp":
        diff = ddp_gradient_difference()
        if diff is not None:
            print(
                json.dumps(
                    {"world_size": int(os.environ.get("WORLD_SIZE", "1")), "max_grad_diff": diff}
                )
            )
        return 0
    if args.cmd == "select-loss":
        print(json.dumps(select_loss(args.out, args.cube, args.minutes)))
        return 0
    cfg = Config(**{k: getattr(args, k) for k in asdict(Config())})
    if cfg.loss == "auto":  # the loss chosen by `select-loss`
        cfg.loss = json.loads((args.select / "selection.json").read_text())["chosen"]
    print(json.dumps(train(cfg, args.out, args.cube)))
    return 0


def select_loss(out: Path, cube: Path, minutes: float) -> dict:
    """Train each loss for `minutes` from the same seed; write and return the comparison."""
    results = {}
    for kind in SELECTED_LOSSES:
        cfg = Config(loss=kind, minutes=minutes, steps_per_epoch=25, val_samples=48)
        results[kind] = train(cfg, out / kind, cube)["best_val_lc_miou"]
    choice = {
        "val_lc_miou": results,
        "chosen": max(results, key=results.get),
        "minutes_each": minutes,
    }
    (out / "selection.json").write_text(json.dumps(choice, indent=1))
    return choice


if __name__ == "__main__":
    exit_process(main())
