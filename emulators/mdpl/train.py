"""Training of the MdPL surrogates and of g_z through a frozen surrogate (resumable).

    python -m emulators.mdpl.train surrogate --arch multitask --steps 3000 --minutes 35
    python -m emulators.mdpl.train generator --arch multitask --steps 1200 --minutes 20
    python -m emulators.mdpl.train generator --gz gru1x64 --distill 10 --warmup 300 ...

Why time budgets: everything trains on one shared CPU core; a run stops at `--steps` or
`--minutes`, checkpoints every `--every` steps (atomically) and resumes from the checkpoint.
The surrogate follows seed 003 (Adam lr 0.005, shared layers at a third of it) with a
cosine decay over the run; the last 4 ensemble members of every site are held out for
validation. g_z sees each site's calibration years only (year 3 is never used in training).
A cheaper g_z (`--gz gru1x64`, for the online step) trains through the same frozen surrogate,
optionally distilled from the paper-sized g_z's per-window outputs (`--distill` weight; the
first `--warmup` steps distil only, which costs no surrogate pass).
A MAP g_z (`--prior-sigma σ_p`, `emulators/mdpl/prior.py`) adds a Gaussian prior around the
PFT defaults, weighted by the calibration-year misfit of its warm start (`--init-from`);
`--tag` names its checkpoint (e.g. `generator_multitask_gru1x64_map.pt`). `--closure` makes
its flux misfit closure-aware (a per-site energy-balance factor profiled out, `prior.py`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from coupler.errors import ConfigError
from emulators.mdpl import twin
from emulators.mdpl.dataset import (
    DATA_DIR,
    WINDOW,
    Norm,
    SiteData,
    generator_inputs,
    load_site,
    surrogate_inputs,
)
from emulators.mdpl.model import GENERATORS, SURROGATES, ParameterGenerator
from emulators.mdpl.prior import (
    CLOSURE_RANGE,
    PriorWeight,
    check_closure,
    check_sigma,
    closure_factor,
    penalty,
    site_closure,
    weight_from_misfit,
)
from emulators.mdpl.sites import SITES

N_VAL_MEMBERS = 4


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _update(
    opt: torch.optim.Optimizer, base: list[float], module: torch.nn.Module, loss, progress: float
) -> float:
    """One clipped Adam step at the cosine-annealed learning rates; returns the loss."""
    for g, b in zip(opt.param_groups, base, strict=True):
        g["lr"] = b * 0.5 * (1 + math.cos(math.pi * progress))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
    opt.step()
    return loss.item()


def ckpt_path(kind: str, arch: str, data_dir: Path = DATA_DIR, gz: str = "lstm4x128") -> Path:
    """Checkpoint file; a g_z variant other than the paper's gets its own file."""
    suffix = "" if gz == "lstm4x128" else f"_{gz}"
    return data_dir / f"{kind}_{arch}{suffix}.pt"


def load_all(data_dir: Path = DATA_DIR, names: list[str] | None = None) -> list[SiteData]:
    return [load_site(s, data_dir) for s in SITES if not names or s.name in names]


def surrogate_batch(
    data: list[SiteData], norm: Norm, rng: np.random.Generator, size: int, val: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows (site, member, start) of the ensembles → (x, y standardised)."""
    xs, ys = [], []
    sites = rng.integers(0, len(data), size)
    for k in np.unique(sites):
        d, n = data[k], int((sites == k).sum())
        m_all = d.member_flux.shape[0]
        # members: the last N_VAL_MEMBERS LHS members (before the default run) are validation
        lo, hi = (m_all - 1 - N_VAL_MEMBERS, m_all - 1) if val else (0, m_all - 1 - N_VAL_MEMBERS)
        mem = rng.integers(lo, hi, n)
        if not val:
            mem[rng.random(n) < 0.1] = m_all - 1  # default run
        start = rng.integers(0, twin.CAL_STEPS - WINDOW, n)
        fn = norm.forcing(d.forcing)
        xs.append(surrogate_inputs(fn, start, twin.to_unit(d.members[mem]).astype(np.float32)))
        idx = start[:, None] + np.arange(WINDOW)
        ys.append(norm.flux(d.member_flux[mem[:, None], idx]))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


def train_surrogate(
    arch: str,
    steps: int,
    minutes: float,
    batch: int = 64,
    lr: float = 0.005,
    every: int = 100,
    data_dir: Path = DATA_DIR,
    names: list[str] | None = None,
    seed: int = 0,
) -> dict:
    """Train (or resume) a surrogate; returns the final log record."""
    torch.manual_seed(seed)
    data = load_all(data_dir, names)
    path = ckpt_path("surrogate", arch, data_dir)
    model = SURROGATES[arch]()
    shared = {id(p) for p in model.shared_parameters()}
    groups = [
        {"params": [p for p in model.parameters() if id(p) in shared], "lr": lr / 3},
        {"params": [p for p in model.parameters() if id(p) not in shared], "lr": lr},
    ]
    opt = torch.optim.Adam([g for g in groups if g["params"]])
    # the schedule's peak rates, taken before a checkpoint's optimizer state (which holds the
    # last annealed rates) is loaded
    base = [g["lr"] for g in opt.param_groups]
    step, norm, log = 0, Norm.fit(data), []
    if path.exists():
        ck = torch.load(path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, norm, log = ck["step"], Norm.from_dict(ck["norm"]), ck["log"]
    rng = np.random.default_rng(seed + step)
    vrng = np.random.default_rng(12345)
    xv, yv = surrogate_batch(data, norm, vrng, 256, val=True)
    t0, run_loss = time.perf_counter(), []
    while step < steps and time.perf_counter() - t0 < minutes * 60:
        x, y = surrogate_batch(data, norm, rng, batch)
        loss = torch.mean((model(x) - y) ** 2)
        run_loss.append(_update(opt, base, model, loss, step / steps))
        step += 1
        out_of_time = time.perf_counter() - t0 >= minutes * 60
        if step % every == 0 or step == steps or out_of_time:
            with torch.no_grad():
                err = (model(xv) - yv).numpy() * norm.y_std
            rec = {
                "step": step,
                "train_mse": float(np.mean(run_loss)),
                "val_rmse_H": float(np.sqrt(np.mean(err[..., 0] ** 2))),
                "val_rmse_LE": float(np.sqrt(np.mean(err[..., 1] ** 2))),
                "elapsed_s": round(time.perf_counter() - t0, 1),
            }
            log.append(rec)
            run_loss = []
            print(json.dumps(rec), flush=True)
            ck = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step}
            _save({**ck, "norm": norm.to_dict(), "log": log, "arch": arch}, path)
    return log[-1] if log else {}


def load_surrogate(arch: str, data_dir: Path = DATA_DIR) -> tuple[torch.nn.Module, Norm]:
    """A trained surrogate (eval mode, frozen) and its normalisation."""
    ck = torch.load(ckpt_path("surrogate", arch, data_dir), weights_only=False)
    model = SURROGATES[arch]()
    model.load_state_dict(ck["model"])
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, Norm.from_dict(ck["norm"])


def surrogate_validation(
    arch: str, data_dir: Path = DATA_DIR, n: int = 2048, names: list[str] | None = None
) -> dict[str, float]:
    """A trained surrogate's RMSE (W m-2) on `n` random windows of the held-out ensemble
    members (never trained on), H and LE, in batches of 256."""
    data = load_all(data_dir, names)
    model, norm = load_surrogate(arch, data_dir)
    rng, sq = np.random.default_rng(2024), []
    with torch.no_grad():
        for _ in range(max(1, n // 256)):
            x, y = surrogate_batch(data, norm, rng, 256, val=True)
            sq.append(((model(x) - y).numpy() * norm.y_std) ** 2)
    mse = np.concatenate(sq).reshape(-1, 2).mean(axis=0)
    return {"val_rmse_H": float(np.sqrt(mse[0])), "val_rmse_LE": float(np.sqrt(mse[1]))}


def generator_batch(
    data: list[SiteData],
    norm: Norm,
    rng: np.random.Generator,
    n_sites: int,
    k: int,
    p_drop_obs: float = 0.3,
) -> tuple[torch.Tensor, ...]:
    """k windows of each of n_sites random sites over the calibration years: (g_z input,
    surrogate input without parameters, observed fluxes, valid mask, the sites' default
    parameters (unit-scaled), the physics' default-run fluxes), fluxes standardised."""
    gx, sx, ob, base_unit, base_flux = [], [], [], [], []
    for i in rng.choice(len(data), size=min(n_sites, len(data)), replace=False):
        d = data[i]
        fn = norm.forcing(d.forcing)
        on = norm.flux(d.obs)
        start = rng.integers(0, twin.CAL_STEPS - WINDOW, k)
        use_obs = rng.random() >= p_drop_obs
        idx = start[:, None] + np.arange(WINDOW)
        gx.append(generator_inputs(fn, start, d.attrs, on if use_obs else None))
        sx.append(surrogate_inputs(fn, start, np.zeros((k, 12), dtype=np.float32))[..., :-12])
        ob.append(on[idx])
        base_unit.append(twin.to_unit(d.default).astype(np.float32))
        base_flux.append(norm.flux(d.sim_default[idx]))
    obs = np.stack(ob)  # (S, k, T, 2)
    ok = np.isfinite(obs)
    return (
        torch.from_numpy(np.stack(gx)),
        torch.from_numpy(np.stack(sx)),
        torch.from_numpy(np.where(ok, obs, 0.0).astype(np.float32)),
        torch.from_numpy(ok.astype(np.float32)),
        torch.from_numpy(np.stack(base_unit)),
        torch.from_numpy(np.stack(base_flux)),
    )


def _surrogate_sites(surrogate: torch.nn.Module, sx: torch.Tensor, unit: torch.Tensor):
    """The surrogate on every site's windows with one parameter set per site (S, 12)."""
    s, k, t, _ = sx.shape
    p = unit[:, None, None, :].expand(s, k, t, unit.shape[1])
    return surrogate(torch.cat([sx, p], dim=3).reshape(s * k, t, -1)).reshape(s, k, t, 2)


def closure_scaled(
    y: torch.Tensor, obs: torch.Tensor, ok: torch.Tensor, norm: Norm, bounds: tuple[float, float]
) -> torch.Tensor:
    """Standardised fluxes y (S, k, T, 2) → c*·y per site in physical units, re-standardised,
    c* each site's least-squares closure factor over its observed H and LE in the batch.
    c* is detached: at the optimum over c the gradient in θ is the same (it is profiled out),
    and at a bound c is a constant."""
    mean, std = torch.from_numpy(norm.y_mean), torch.from_numpy(norm.y_std)
    phys = y * std + mean
    with torch.no_grad():
        c = closure_factor(phys, obs * std + mean, ok, bounds, axis=(1, 2, 3))
    return (c[:, None, None, None] * phys - mean) / std


def generator_loss(
    gz: ParameterGenerator,
    surrogate: torch.nn.Module,
    gx: torch.Tensor,
    sx: torch.Tensor,
    obs: torch.Tensor,
    ok: torch.Tensor,
    base_unit: torch.Tensor | None = None,
    base_flux: torch.Tensor | None = None,
    prior: tuple[PriorWeight, torch.Tensor] | None = None,
    norm: Norm | None = None,
) -> torch.Tensor:
    """Masked MSE of the surrogate driven by each site's mean g_z parameters vs observations
    (+ with `prior` = (weight, the sites' default unit parameters): λ × the mean over sites of
    the prior penalty, the MAP loss of `prior.py`; if the weight has a closure range, the
    misfit is that of c*·prediction, which needs `norm` for physical units).

    With base_unit/base_flux (bias correction) the prediction is the physics' default run
    plus the surrogate's *change* from the defaults: the surrogate's own error at a site
    (it cannot see soil-moisture memory beyond its window) then cancels instead of being
    compensated by wrong parameters."""
    s, k, t, c = gx.shape
    unit = gz(gx.reshape(s * k, t, c)).reshape(s, k, -1).mean(dim=1)  # one set per site
    y = _surrogate_sites(surrogate, sx, unit)
    if base_unit is not None:
        with torch.no_grad():
            y0 = _surrogate_sites(surrogate, sx, base_unit)
        y = base_flux + (y - y0)
    if prior is not None and prior[0].closure is not None:
        if norm is None:
            raise ValueError("a closure-aware loss needs the flux normalisation (norm)")
        y = closure_scaled(y, obs, ok, norm, prior[0].closure)
    mse = torch.sum(ok * (y - obs) ** 2) / torch.clamp(ok.sum(), min=1.0)
    if prior is None:
        return mse
    weight, unit_default = prior
    return mse + weight.lam * penalty(unit, unit_default, weight.sigma_p).mean()


def site_misfit(
    gz: ParameterGenerator,
    surrogate: torch.nn.Module,
    d: SiteData,
    norm: Norm,
    closure: tuple[float, float] | None = None,
) -> np.ndarray:
    """obs − surrogate at the site's g_z parameters over the calibration years, (CAL_STEPS, 2)
    standardised, NaN in gaps: consecutive 48-step windows, as the loss sees them (with
    `closure`: obs − c*·surrogate, c* over these years)."""
    unit = twin.to_unit(site_parameters(gz, d, norm)).astype(np.float32)
    start = np.arange(0, twin.CAL_STEPS - WINDOW + 1, WINDOW)
    fn = norm.forcing(d.forcing)
    y = []
    with torch.no_grad():
        for chunk in np.array_split(start, max(1, len(start) // 128)):
            x = surrogate_inputs(fn, chunk, np.repeat(unit[None], len(chunk), axis=0))
            y.append(surrogate(torch.from_numpy(x)).numpy().reshape(-1, 2))
    obs = d.obs[: len(start) * WINDOW]
    sim = np.concatenate(y) * norm.y_std + norm.y_mean
    if closure is not None:
        sim = site_closure(sim, obs, closure) * sim
    return norm.flux(obs) - norm.flux(sim)


def distill_loss(
    gz: ParameterGenerator, teacher: ParameterGenerator, gx: torch.Tensor
) -> torch.Tensor:
    """MSE between the student's and the teacher's unit parameters on the same windows."""
    x = gx.reshape(-1, *gx.shape[2:])
    with torch.no_grad():
        target = teacher(x)
    return torch.mean((gz(x) - target) ** 2)


def train_generator(
    arch: str,
    steps: int,
    minutes: float,
    n_sites: int = 10,
    k: int = 4,
    lr: float = 3e-3,
    every: int = 50,
    data_dir: Path = DATA_DIR,
    names: list[str] | None = None,
    seed: int = 0,
    bias_correct: bool = False,
    gz_name: str = "lstm4x128",
    distill: float = 0.0,
    warmup: int = 0,
    prior_sigma: float | None = None,
    init_from: str | None = None,
    tag: str = "",
    closure: tuple[float, float] | None = None,
) -> dict:
    """Train (or resume) g_z through the frozen `arch` surrogate against the twin obs
    (`bias_correct`: through the surrogate's change from the physics' default run;
    `distill` > 0: plus that weight × MSE to the paper-sized g_z's outputs, distillation
    only for the first `warmup` steps; `prior_sigma`: MAP loss with a prior of that width
    around the defaults; `init_from`: warm start from that g_z variant's checkpoint;
    `tag`: checkpoint name suffix; `closure`: closure-aware misfit, c* in that range)."""
    if warmup > 0 and distill <= 0:
        raise ConfigError(f"g_z: --warmup {warmup} distils only, so it needs --distill > 0")
    if prior_sigma is not None:
        check_sigma(prior_sigma)
    if closure is not None:
        closure = check_closure(closure)
        if prior_sigma is None:
            raise ConfigError("g_z: --closure is part of the MAP loss, so it needs --prior-sigma")
    torch.manual_seed(seed)
    data = load_all(data_dir, names)
    surrogate, norm = load_surrogate(arch, data_dir)
    path = ckpt_path("generator", arch, data_dir, f"{gz_name}_{tag}" if tag else gz_name)
    teacher = load_generator(arch, data_dir) if distill > 0 else None
    gz = ParameterGenerator(**GENERATORS[gz_name])
    opt = torch.optim.Adam(gz.parameters(), lr=lr)
    step, log, weight = 0, [], None
    if path.exists():
        ck = torch.load(path, weights_only=False)
        gz.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, log = ck["step"], ck["log"]
        weight = PriorWeight.from_dict(ck["prior"]) if ck.get("prior") else None
    elif init_from:
        gz.load_state_dict(load_generator(arch, data_dir, init_from).state_dict())
    if prior_sigma is not None and weight is None:  # from the warm start's misfit, once
        misfits = [site_misfit(gz, surrogate, d, norm, closure) for d in data]
        weight = weight_from_misfit(prior_sigma, misfits, closure)
        print(json.dumps({"prior": weight.to_dict()}), flush=True)
    rng = np.random.default_rng(seed + 7919 * step)
    t0, run_loss = time.perf_counter(), []
    while step < steps and time.perf_counter() - t0 < minutes * 60:
        *batch, base_unit, base_flux = generator_batch(data, norm, rng, n_sites, k)
        base = (base_unit, base_flux) if bias_correct else (None, None)
        prior = None if weight is None else (weight, base_unit)
        loss = torch.zeros(())
        if step >= warmup:
            loss = generator_loss(gz, surrogate, *batch, *base, prior=prior, norm=norm)
        if teacher is not None:
            loss = loss + distill * distill_loss(gz, teacher, batch[0])
        run_loss.append(_update(opt, [lr], gz, loss, step / steps))
        step += 1
        out_of_time = time.perf_counter() - t0 >= minutes * 60
        if step % every == 0 or step == steps or out_of_time:
            rec = {"step": step, "train_mse": float(np.mean(run_loss))}
            rec["elapsed_s"] = round(time.perf_counter() - t0, 1)
            log.append(rec)
            run_loss = []
            print(json.dumps(rec), flush=True)
            ck = {"model": gz.state_dict(), "opt": opt.state_dict(), "step": step, "log": log}
            meta = {"norm": norm.to_dict(), "arch": arch, "gz": gz.config}
            _save({**ck, **meta, "prior": weight and weight.to_dict()}, path)
    return log[-1] if log else {}


def load_generator(
    arch: str, data_dir: Path = DATA_DIR, gz_name: str = "lstm4x128"
) -> ParameterGenerator:
    ck = torch.load(ckpt_path("generator", arch, data_dir, gz_name), weights_only=False)
    gz = ParameterGenerator(**ck.get("gz", GENERATORS["lstm4x128"]))
    gz.load_state_dict(ck["model"])
    gz.eval()
    return gz


def load_prior(
    arch: str, data_dir: Path = DATA_DIR, gz_name: str = "lstm4x128"
) -> PriorWeight | None:
    """The prior a g_z was trained with (PriorWeight), None for a plain (flux-only) g_z."""
    ck = torch.load(ckpt_path("generator", arch, data_dir, gz_name), weights_only=False)
    return PriorWeight.from_dict(ck["prior"]) if ck.get("prior") else None


def site_parameters(
    gz: ParameterGenerator, d: SiteData, norm: Norm, use_obs: bool = True, n_windows: int = 256
) -> np.ndarray:
    """A site's calibrated parameters (12,): mean g_z output over evenly spaced windows of the
    calibration years."""
    start = np.linspace(0, twin.CAL_STEPS - WINDOW, n_windows).astype(int)
    x = generator_inputs(
        norm.forcing(d.forcing), start, d.attrs, norm.flux(d.obs) if use_obs else None
    )
    with torch.no_grad():
        unit = gz(torch.from_numpy(x)).mean(0).numpy()
    return twin.from_unit(unit.astype(float))


def main(argv: list[str] | None = None) -> None:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["surrogate", "generator"])
    ap.add_argument("--arch", choices=sorted(SURROGATES), default="multitask")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--minutes", type=float, default=35.0)
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--sites", default="")
    ap.add_argument(
        "--bias-correct", action="store_true", help="g_z: fit the surrogate's change from defaults"
    )
    ap.add_argument("--gz", choices=sorted(GENERATORS), default="lstm4x128", help="g_z size")
    ap.add_argument("--distill", type=float, default=0.0, help="g_z: weight of distillation")
    ap.add_argument("--warmup", type=int, default=0, help="g_z: distillation-only steps")
    ap.add_argument("--prior-sigma", type=float, default=None, help="g_z: MAP prior width")
    ap.add_argument("--init-from", default=None, help="g_z: warm start from this variant")
    ap.add_argument("--tag", default="", help="g_z: checkpoint name suffix")
    ap.add_argument("--lr", type=float, default=3e-3, help="g_z: learning rate")
    ap.add_argument("--seed", type=int, default=0, help="g_z: torch and batch-sampling seed")
    ap.add_argument(
        "--closure",
        nargs="?",
        const=",".join(map(str, CLOSURE_RANGE)),
        default=None,
        help="g_z (MAP): closure-aware misfit, c* clipped to LO,HI (default 0.7,1.05)",
    )
    a = ap.parse_args(argv)
    names = [n for n in a.sites.split(",") if n] or None
    kw = {"data_dir": a.data_dir, "names": names}
    if a.what == "generator":
        print(
            json.dumps(
                train_generator(
                    a.arch,
                    a.steps,
                    a.minutes,
                    bias_correct=a.bias_correct,
                    gz_name=a.gz,
                    distill=a.distill,
                    warmup=a.warmup,
                    prior_sigma=a.prior_sigma,
                    init_from=a.init_from,
                    tag=a.tag,
                    lr=a.lr,
                    seed=a.seed,
                    closure=a.closure and check_closure(a.closure.split(",")),
                    **kw,
                )
            )
        )
    else:
        print(json.dumps(train_surrogate(a.arch, a.steps, a.minutes, **kw)))


if __name__ == "__main__":
    main()
